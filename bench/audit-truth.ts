// Benchmark: the static audit on the truth table's real binaries (test/fixtures/audit-truth.ts)
// — its answer per binary against the level each was found to run at, and its speed in
// MB of code per second (median of the runs) — side by side with Debian's elfx86exts
// (whole-file extension sets, no notion of a CPU check: its highest level is its answer).
// Usage: npm run bench:audit-truth [-- --runs 3]
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { auditFile } from '../harness/audit/audit-file.js';
import { judgeFile } from '../harness/audit/findings.js';
import { AUDIT_TRUTH } from '../test/fixtures/audit-truth.js';
import { fetchTruth } from '../test/fixtures/truth-fetch.js';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, 'elfx-timeout': { type: 'string', default: '600' } } });
const runs = Number(values.runs);

/** elfx86exts's capstone groups → the lowest psABI level that has them all (v1 when none above). */
const GROUP_LEVEL: [RegExp, string][] = [
  [/^(AVX512|DQI|BWI|VLX|CDI)$/, 'v4'],
  [/^(AVX|AVX2|BMI|BMI2|FMA|F16C|MOVBE|LZCNT)$/, 'v3'],
  [/^(SSE3|SSSE3|SSE41|SSE42|POPCNT)$/, 'v2'],
];

async function elfx86exts(file: string): Promise<{ level: string; generation: string; seconds: number } | { error: string }> {
  const started = performance.now();
  const r = await execa('elfx86exts', [file], { reject: false, timeout: Number(values['elfx-timeout']) * 1000 });
  const seconds = (performance.now() - started) / 1000;
  if (r.exitCode !== 0) return { error: r.timedOut ? `timed out after ${values['elfx-timeout']} s` : `exit ${r.exitCode}: ${String(r.stderr).split('\n')[0]}` };
  const groups = String(r.stdout)
    .split('\n')
    .map((l) => /^(\S+) \(/.exec(l)?.[1])
    .filter((g): g is string => g !== undefined);
  const level = ['v4', 'v3', 'v2'].find((v) => groups.some((g) => GROUP_LEVEL.some(([re, l]) => l === v && re.test(g)))) ?? 'v1';
  const generation = /CPU Generation: (.*)/.exec(String(r.stdout))?.[1] ?? '?';
  return { level, generation, seconds };
}

const rows: string[] = [];
let mb = 0;
let secs = 0;
for (const entry of AUDIT_TRUTH) {
  const file = await fetchTruth(entry);
  const times: number[] = [];
  let audit = auditFile(file);
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    audit = auditFile(file);
    times.push((performance.now() - t) / 1000);
  }
  const s = median(times);
  mb += audit.codeBytes / 1e6;
  secs += s;
  const answer = audit.unconditional?.level ?? '-';
  const finding = judgeFile(audit, 'v1');
  const elfx = await elfx86exts(file);
  const elfxText = 'error' in elfx ? elfx.error : `${elfx.level} (${elfx.generation}) in ${elfx.seconds.toFixed(1)} s`;
  const truth = entry.dynamic.runsAt;
  rows.push(
    `| ${entry.id} | ${entry.documented.level} | ${truth} | ${answer}${answer === truth ? ' ✓' : ' ✗'} | ${audit.conditional?.level ?? '-'} / ${audit.unresolved?.level ?? '-'} (${((audit.unresolved?.bytes ?? 0) / 1e6).toFixed(2)} MB) | ${finding ? `${finding.certainty} (${finding.basis})` : 'none'} | ${(audit.codeBytes / 1e6).toFixed(1)} MB in ${s.toFixed(1)} s | ${elfxText}${'level' in elfx ? (elfx.level === truth ? ' ✓' : ' ✗') : ''} |`,
  );
  process.stderr.write(`${rows.at(-1)}\n`);
}
process.stdout.write(
  [
    '| binary | documented | runs at (dynamic) | levelgate: reached without a check | after a check / unresolved | finding as x86_64 | levelgate speed (median) | elfx86exts: highest level |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `levelgate: ${mb.toFixed(1)} MB of code in ${secs.toFixed(1)} s (${(mb / secs).toFixed(1)} MB/s, one thread, median of ${runs} runs per file)`,
    '',
  ].join('\n'),
);
