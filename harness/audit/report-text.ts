// The audit in words: one line per package for the terminal (and one for what running
// it showed), and the per-file transcript the JUnit and HTML reports carry.
import { bisectTranscript } from './dynamic/bisect-text.js';
import type { LevelName } from '../levels/table.js';
import type { PackageRun } from './dynamic/types.js';
import { levelLabel } from './features.js';
import { fails, unresolvedText, type Finding } from './findings.js';
import type { FileAudit, IsaSummary, PackageAudit } from './types.js';

const MARKS = { pass: 'ok     ', finding: 'FINDING', suspect: 'SUSPECT', error: 'ERROR  ' } as const;

const claimText = (p: PackageAudit): string =>
  p.allowed ? `${p.arch ?? 'no arch'} → ${levelLabel(p.allowed)}` : p.arch ? `${p.arch}: no x86-64 level, not judged` : 'no package claims it: not judged';

/** "v3 (AVX2, BMI2) + AES": what a body of code needs. */
export function needsText(s: IsaSummary | undefined): string {
  if (!s) return '-';
  return `${levelLabel(s.level)}${s.levelSetBy.length ? ` (${s.levelSetBy.join(', ')})` : ''}${s.beyond.length ? ` + ${s.beyond.join(', ')} (outside the levels)` : ''}`;
}

/**
 * A finding in words: what the static audit says (or the trap), how sure it is, and its
 * confidence after running: "confidence static", "confidence confirmed" (a trap in the
 * file), "confidence unpredicted" (a trap the static audit did not see coming).
 */
export function findingText(f: Finding): string {
  if (f.confidence === 'unpredicted') return `${f.message} — confidence unpredicted: ${f.run?.detail ?? 'it trapped'}`;
  if (f.confidence === 'confirmed') return `${f.message} — confidence confirmed by a trap at ${f.run ? levelLabel(f.run.level) : 'run time'}: ${f.run?.detail ?? ''}`;
  const run = f.run ? ` — not reproduced at ${levelLabel(f.run.level)}: ${f.run.detail}` : '';
  return `${f.message}; ${f.certainty === 'suspect' ? 'suspected' : 'sure'} (${f.basis}): ${f.why}; confidence static${run}`;
}

/** One line per package: verdict, id, claim and the first finding or what its code needs. */
export function packageLine(p: PackageAudit): string {
  const mark = MARKS[p.verdict];
  const audited = p.files.filter((f) => f.status === 'audited');
  if (p.problem) return `${mark} ${p.id}: ${p.problem}`;
  if (p.findings.length) {
    const first = p.findings.find(fails) ?? p.findings[0]!;
    return `${mark} ${p.id} (${claimText(p)}): ${findingText(first)}${p.findings.length > 1 ? ` (+${p.findings.length - 1} more files)` : ''}`;
  }
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
    ...(f.unresolved ? [`  cannot place (unresolved):      ${f.unresolved.instructions ? `${needsText(f.unresolved)}: ${unresolvedText(f)}` : '(none)'}`] : []),
    ...(f.reach ? [`  entry points: ${Object.entries(f.reach.entryKinds).map(([kind, n]) => `${n} ${kind}`).join(', ') || 'none'}; reached ${f.reach.reachedBytes} bytes, after a check ${f.reach.conditionalBytes}, unresolved ${f.reach.unresolvedBytes}`] : []),
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

/** What running the package showed, in one line: where, how it installed, how its programs ended. */
export function runLine(run: PackageRun): string {
  const where = `ran at ${run.target}${run.accel ? ` (${run.accel}${run.start === 'snapshot' ? ', restored' : ''})` : ''}`;
  if (run.problem && run.programs.length === 0) return `${where}: ${run.problem}`;
  const ended = (what: (p: PackageRun['programs'][number]) => boolean) => run.programs.filter(what).length;
  const parts = [
    `${run.programs.length} program${run.programs.length === 1 ? '' : 's'}`,
    `${ended((p) => p.exitCode === 0)} exit 0`,
    ...(ended((p) => p.exitCode !== 0 && p.exitCode !== null) ? [`${ended((p) => p.exitCode !== 0 && p.exitCode !== null)} another status`] : []),
    ...(ended((p) => p.spawnFailed) ? [`${ended((p) => p.spawnFailed)} could not start`] : []),
    ...(ended((p) => p.timedOut) ? [`${ended((p) => p.timedOut)} timed out`] : []),
    `${run.traps.length} SIGILL`,
  ];
  return `${where}: ${parts.join(', ')}${run.problem ? `; ${run.problem}` : ''}${run.traps.map((t) => `\n          SIGILL: ${t.line}`).join('')}`;
}

/** The run's transcript: the install, then every program with how it ended. */
export function runTranscript(run: PackageRun): string[] {
  const lines = [`run at ${run.target} (level ${run.level}${run.accel ? `, ${run.accel}` : ''}${run.fidelity ? `, fidelity ${run.fidelity}` : ''}${run.start ? `, ${run.start === 'snapshot' ? 'restored from a snapshot' : 'booted'}` : ''}) in ${(run.durationMs / 1000).toFixed(1)} s`];
  if (run.install) lines.push(`  $ ${run.install}`);
  if (run.problem) lines.push(`  problem: ${run.problem}`);
  for (const p of run.programs) {
    const end = p.spawnFailed ? 'could not start' : p.timedOut ? 'timed out' : p.signal ? `killed by ${p.signal}` : `exit ${p.exitCode}`;
    lines.push(`  $ ${p.command}: ${end}${p.firstLine ? ` — ${p.firstLine}` : ''}`);
    for (const s of p.sigills) lines.push(`    SIGILL: ${s}`);
  }
  return lines;
}

/** The package's transcript: claim, findings with their first offending instructions, what running showed, then every file. */
export function packageTranscript(p: PackageAudit): string {
  const lines = [`${p.id} from ${p.input} (${p.inputKind}): ${claimText(p)}; verdict ${p.verdict}`];
  if (p.problem) lines.push(`problem: ${p.problem}`);
  for (const finding of p.findings) {
    lines.push(`${fails(finding) ? 'FINDING' : 'SUSPECT'} ${findingText(finding)}`);
    for (const e of finding.examples.slice(0, 6)) lines.push(`  ${e.address}${e.offset ? ` (file +${e.offset})` : ''}: ${e.text}   (${e.feature})`);
  }
  if (p.run) lines.push(...runTranscript(p.run));
  for (const b of p.bisect ?? []) lines.push(...bisectTranscript(b));
  for (const f of p.files) lines.push(...fileTranscript(f));
  if (p.otherFiles) lines.push(`(${p.otherFiles} other files are not ELF)`);
  return lines.join('\n');
}
