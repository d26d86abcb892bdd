// The audit in words: one line per package for the terminal, and the per-file
// transcript the JUnit and HTML reports carry.
import type { LevelName } from '../levels/table.js';
import { levelLabel } from './features.js';
import type { FileAudit, IsaSummary, PackageAudit } from './types.js';

const claimText = (p: PackageAudit): string =>
  p.allowed ? `${p.arch ?? 'no arch'} → ${levelLabel(p.allowed)}` : p.arch ? `${p.arch}: no x86-64 level, not judged` : 'no package claims it: not judged';

/** "v3 (AVX2, BMI2) + AES": what a body of code needs. */
export function needsText(s: IsaSummary | undefined): string {
  if (!s) return '-';
  return `${levelLabel(s.level)}${s.levelSetBy.length ? ` (${s.levelSetBy.join(', ')})` : ''}${s.beyond.length ? ` + ${s.beyond.join(', ')} (outside the levels)` : ''}`;
}

/** One line per package: verdict, id, claim and the first finding or what its code needs. */
export function packageLine(p: PackageAudit): string {
  const mark = p.verdict === 'pass' ? 'ok     ' : p.verdict === 'finding' ? 'FINDING' : 'ERROR  ';
  const audited = p.files.filter((f) => f.status === 'audited');
  if (p.problem) return `${mark} ${p.id}: ${p.problem}`;
  if (p.findings.length) return `${mark} ${p.id} (${claimText(p)}): ${p.findings[0]!.message}${p.findings.length > 1 ? ` (+${p.findings.length - 1} more files)` : ''}`;
  const broken = p.files.find((f) => f.status === 'error');
  if (broken) return `${mark} ${p.id}: ${broken.path}: ${broken.reason}`;
  if (!audited.length) {
    const skipped = p.files.find((f) => f.status === 'skipped');
    return `${mark} ${p.id}: ${skipped ? `${skipped.reason}` : 'no ELF files'}`;
  }
  // glibc-hwcaps copies are loaded only at their level: shown apart.
  const plain = audited.filter((f) => !f.loaderLevel);
  const hwcaps = audited.filter((f) => f.loaderLevel);
  const top = (levels: string[]) => levels.sort().at(-1) as LevelName | undefined;
  const uncond = top(plain.map((f) => f.unconditional!.level));
  const all = top(plain.map((f) => f.all!.level));
  const hw = top(hwcaps.map((f) => f.all!.level));
  const parts = [`${audited.length} ELF file${audited.length === 1 ? '' : 's'}`];
  if (uncond) parts.push(`without a CPU check ${levelLabel(uncond)}${all && all !== uncond ? `, after one up to ${levelLabel(all)}` : ''}`);
  if (hw) parts.push(`glibc-hwcaps copies up to ${levelLabel(hw)}`);
  return `${mark} ${p.id} (${claimText(p)}): ${parts.join(', ')}`;
}

/** The transcript of one file: what it needs with and without a check, where it checks, what is conditional. */
export function fileTranscript(f: FileAudit): string[] {
  if (f.status !== 'audited') return [`${f.path}: ${f.status}: ${f.reason}`];
  const lines = [
    `${f.path}: ${f.bits}-bit, ${f.codeBytes} bytes of code, function boundaries from ${f.boundaries}${f.loaderLevel ? `, in glibc-hwcaps/${levelLabel(f.loaderLevel)}` : ''}`,
    `  all code needs:                 ${needsText(f.all)}`,
    `  without a CPU check:            ${needsText(f.unconditional)}`,
    `  only after a CPU check:         ${f.conditional && f.conditional.instructions ? needsText(f.conditional) : '(none)'}`,
  ];
  for (const feature of f.all?.features ?? []) {
    const e = feature.examples[0];
    lines.push(`    ${feature.feature.padEnd(12)} ${(feature.level ?? 'none').padEnd(4)} ${String(feature.count).padStart(8)}${e ? `  e.g. ${e.address}: ${e.text}` : ''}`);
  }
  for (const d of f.all?.discounted ?? []) lines.push(`    not counted: ${d.count} × ${d.what}`);
  if (f.cpuChecks?.length) lines.push(`  checks the CPU: ${f.cpuChecks.slice(0, 5).join('; ')}`);
  const conditional = f.conditional?.functions.filter((c) => c.level && c.level !== 'v1') ?? [];
  for (const c of conditional.slice(0, 10)) lines.push(`  conditional ${c.name} (${c.level}): ${c.detail}`);
  for (const u of f.unconditional?.functions.slice(0, 5) ?? []) lines.push(`  unconditional ${u.name} at ${u.address} needs ${u.level}`);
  for (const n of f.notes ?? []) lines.push(`  note: ${n}`);
  return lines;
}

/** The package's transcript: claim, findings with their first offending instructions, then every file. */
export function packageTranscript(p: PackageAudit): string {
  const lines = [`${p.id} from ${p.input} (${p.inputKind}): ${claimText(p)}; verdict ${p.verdict}`];
  if (p.problem) lines.push(`problem: ${p.problem}`);
  for (const finding of p.findings) {
    lines.push(`FINDING ${finding.message}`);
    for (const e of finding.examples.slice(0, 6)) lines.push(`  ${e.address}: ${e.text}   (${e.feature})`);
  }
  for (const f of p.files) lines.push(...fileTranscript(f));
  if (p.otherFiles) lines.push(`(${p.otherFiles} other files are not ELF)`);
  return lines.join('\n');
}
