// Benchmark: the dynamic truth of real third-party binaries re-measured by bisection.
// Each binary of the truth table (test/fixtures/audit-truth.ts, the one the suite checks
// the static answer against) is fetched once into ~/.cache/levelgate/truth, then
// `levelgate audit --run bisect` runs them all (programs with `--version` or the entry's
// command, libraries through the loader), level by level in restored guests; every answer
// (lowest level; above v1, a SIGILL of exactly that level one level below) is checked
// against the recorded one, and the cost is measured: guests restored per level and seconds
// per program, median of the runs after a first one that may build the snapshots. Entries
// the bisection cannot run (notBisected) are named with the reason.
// Usage: npm run bench:audit-bisect [-- --runs 3]
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { dir } from 'tmp-promise';
import type { AuditRun } from '../harness/audit/types.js';
import { median } from './median.js';
import { AUDIT_TRUTH, type TruthEntry } from '../test/fixtures/audit-truth.js';
import { fetchTruth } from '../test/fixtures/truth-fetch.js';

const CLI = fileURLToPath(new URL('../runners/cli.js', import.meta.url));
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const runs = Number(values.runs);
const log = (line: string) => process.stderr.write(`${line}\n`);
const TRUTH = AUDIT_TRUTH.filter((e) => !e.dynamic.notBisected);

interface Sample {
  readonly wallS: number;
  readonly bisectS: number;
  readonly restores: Record<string, number>;
  readonly levelS: Record<string, number>;
  /** Seconds each program spent running in guests (all its attempts), by entry id. */
  readonly programS: Record<string, number>;
  readonly mismatches: string[];
  readonly answers: Record<string, string>;
  /** The killing instruction seen, by entry id. */
  readonly killers: Record<string, string>;
}

/**
 * The measured answer against the recorded one: the lowest level must be the same, and
 * above v1 what kills it one level below must be a SIGILL needing exactly that level
 * (at v1, nothing below: no killer). The instruction itself may
 * differ between runs of a program with several threads (the first thread to reach an
 * instruction the CPU lacks kills it): it is reported, not required.
 */
function judge(entry: TruthEntry, run: AuditRun, file: string): { answer: string; killer?: string; mismatch?: string; programS: number } {
  const b = run.packages.find((p) => p.id === file)?.bisect?.[0];
  if (!b) return { answer: 'not bisected', mismatch: `${entry.id}: not bisected`, programS: 0 };
  const k = b.killedBelowBy;
  const killer = k ? `${k.mnemonic ?? k.how} (${k.extension ?? '?'})` : undefined;
  const answer = `runs at ${b.runsAt ?? 'none'}${k ? `, killed at ${k.level} by ${killer}` : ''}; static ${b.staticLevel ?? '?'} (${b.reconciliation.agreement})`;
  const want = entry.dynamic;
  const wrong = b.runsAt !== want.runsAt || (want.runsAt !== 'v1' && (k?.how !== 'sigill' || k.needs !== want.runsAt)) || (want.runsAt === 'v1' && k !== undefined);
  const programS = b.attempts.flatMap((a) => a.programs).reduce((n, p) => n + p.durationMs, 0) / 1000;
  const expected = `runs at ${want.runsAt}${want.killedBelowBy ? `, killed one level below by an instruction of ${want.runsAt} (recorded: ${want.killedBelowBy.mnemonic}, ${want.killedBelowBy.extension})` : ''}`;
  return { answer, ...(killer ? { killer } : {}), ...(wrong ? { mismatch: `${entry.id}: expected ${expected}; measured ${answer}` } : {}), programS };
}

async function once(files: readonly string[], out: string): Promise<Sample> {
  // An entry's own command, under its file's name (a loose program's ARGV starting with its name runs the copy on the disk).
  const commands = TRUTH.flatMap((e, i) => (e.dynamic.command ? ['--command', `${path.basename(files[i]!)}=${JSON.stringify(e.dynamic.command)}`] : []));
  const started = performance.now();
  const result = await execa('node', [CLI, 'audit', '--run', 'bisect', '--jobs', '1', ...commands, '--json', out, ...files], { reject: false, stdout: 'pipe', stderr: 'pipe' });
  const wallS = (performance.now() - started) / 1000;
  if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`levelgate audit --run bisect exited ${result.exitCode}:\n${result.stderr}`);
  const run = JSON.parse(await readFile(out, 'utf8')) as AuditRun;
  const programS: Record<string, number> = {};
  const mismatches: string[] = [];
  const answers: Record<string, string> = {};
  const killers: Record<string, string> = {};
  TRUTH.forEach((entry, i) => {
    const j = judge(entry, run, files[i]!);
    programS[entry.id] = j.programS;
    answers[entry.id] = j.answer;
    if (j.killer) killers[entry.id] = j.killer;
    if (j.mismatch) mismatches.push(j.mismatch);
  });
  const cost = run.bisectCost ?? { restores: {}, targetMs: {} };
  const levelS = Object.fromEntries(Object.entries(cost.targetMs).map(([k, v]) => [k, v / 1000]));
  return { wallS, bisectS: Object.values(levelS).reduce((a, b) => a + b, 0), restores: { ...cost.restores }, levelS, programS, mismatches, answers, killers };
}

const fmt = (n: number) => n.toFixed(1);

async function main(): Promise<number> {
  const files: string[] = [];
  for (const entry of AUDIT_TRUTH) if (entry.dynamic.notBisected) log(`${entry.id}: not bisected: ${entry.dynamic.notBisected}`);
  for (const entry of TRUTH) {
    log(`fetching ${entry.source.name}@${entry.source.version}`);
    files.push(await fetchTruth(entry));
  }
  const scratch = await dir({ prefix: 'levelgate-bench-bisect-', unsafeCleanup: true });
  try {
    const samples: Sample[] = [];
    for (let i = 0; i <= runs; i++) {
      const s = await once(files, path.join(scratch.path, `run-${i}.json`));
      log(`run ${i}${i === 0 ? ' (warm-up: may build the snapshots)' : ''}: ${fmt(s.wallS)} s wall, bisection ${fmt(s.bisectS)} s, restores ${JSON.stringify(s.restores)}${s.mismatches.length ? `; MISMATCH ${s.mismatches.join('; ')}` : ''}`);
      samples.push(s);
    }
    const measured = samples.slice(1);
    const cpu = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
    const levels = [...new Set(measured.flatMap((s) => Object.keys(s.restores)))];
    const lines = [
      `Host: ${cpu}, ${os.availableParallelism()} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end; median of ${measured.length} runs after a warm-up run.`,
      '',
      '| binary | recorded dynamic truth | measured (last run) | killing instructions seen (all runs) | seconds running in guests (median) |',
      '|---|---|---|---|---|',
      ...TRUTH.map(
        (e) =>
          `| ${e.source.name}@${e.source.version} (${e.path}) | runs at ${e.dynamic.runsAt}${e.dynamic.killedBelowBy ? `, killed below by ${e.dynamic.killedBelowBy.mnemonic} (${e.dynamic.killedBelowBy.extension})` : ''} | ${measured.at(-1)!.answers[e.id]} | ${[...new Set(samples.flatMap((s) => s.killers[e.id] ?? []))].join(', ') || '—'} | ${fmt(median(measured.map((s) => s.programS[e.id] ?? 0)))} |`,
      ),
      '',
      '| level | guests restored per run (all programs) | seconds per run (median) |',
      '|---|---|---|',
      ...levels.map((l) => `| ${l} | ${median(measured.map((s) => s.restores[l] ?? 0))} | ${fmt(median(measured.map((s) => s.levelS[l] ?? 0)))} |`),
      '',
      `Whole bisection of the ${TRUTH.length} programs: ${fmt(median(measured.map((s) => s.bisectS)))} s (median; ${fmt(median(measured.map((s) => s.bisectS)) / TRUTH.length)} s per program), ${fmt(median(measured.map((s) => s.wallS)))} s with the static audit and setup; the warm-up run took ${fmt(samples[0]!.wallS)} s.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    const wrong = samples.flatMap((s) => s.mismatches);
    if (wrong.length) {
      process.stderr.write(`the dynamic answer differs from the truth list:\n${[...new Set(wrong)].join('\n')}\n`);
      return 1;
    }
    return 0;
  } finally {
    await scratch.cleanup();
  }
}

process.exitCode = await main();
