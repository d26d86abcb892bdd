// Benchmark: one column of the gate (default: v3) with this build and, alternating, a base
// build, each run's cells compared with a reference gate.json (id, verdict, reason), and
// where the cells' time went (boot, package manager, harness parts, the two workers' tail).
// Usage: npm run bench:gate-ab -- [--base DIR] [--runs N] [--level v3]... [--reference F]
//        [--keep DIR] [--subset] [-- extra gate arguments]
// --subset: the runs are part of the column (--scenario, --driver): reference cells they do not run are not missing.
//        npm run bench:gate-ab -- --compare A.json B.json...   (no run: compare and profile)
// Exit 1 when a run's verdicts differ from the reference's.
import { mkdtemp, readFile, rm, copyFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { CellResult, RunResult } from '../harness/results/types.js';
import { median } from './median.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    base: { type: 'string' },
    runs: { type: 'string', default: '3' },
    level: { type: 'string', multiple: true },
    reference: { type: 'string' },
    keep: { type: 'string' },
    compare: { type: 'boolean', default: false },
    subset: { type: 'boolean', default: false },
  },
});

/** The cells' verdicts that differ from the reference's, one line each (missing and extra cells too). */
export function verdictDifferences(reference: readonly CellResult[], cells: readonly CellResult[], subset = false): string[] {
  const key = (c: CellResult) => `${c.verdict} | ${c.reason}`;
  const got = new Map(cells.map((c) => [c.id, key(c)]));
  const want = new Map(reference.filter((c) => !subset || got.has(c.id)).map((c) => [c.id, key(c)]));
  const lines: string[] = [];
  for (const [id, k] of want) if (got.get(id) !== k) lines.push(`${id}: ${got.has(id) ? `${got.get(id)} (reference: ${k})` : 'missing'}`);
  for (const id of got.keys()) if (!want.has(id)) lines.push(`${id}: not in the reference`);
  return lines;
}

/** Sums of the cells' timings, s, and the workers' tail (wall − cell time / workers). */
function profile(run: RunResult): Record<string, number> {
  const sum = (f: (c: CellResult) => number | undefined) => Math.round(run.cells.reduce((a, c) => a + (f(c) ?? 0), 0) / 100) / 10;
  const cellS = sum((c) => c.timings.totalMs);
  return {
    wall: Math.round(run.durationMs / 100) / 10,
    cells: cellS,
    boot: sum((c) => c.timings.bootMs),
    packageManager: sum((c) => c.timings.packageManagerMs),
    harness: sum((c) => c.timings.harnessMs),
    detect: sum((c) => c.timings.harness?.detectMs),
    powerOff: sum((c) => c.timings.harness?.powerOffMs),
    installedQuery: sum((c) => c.timings.harness?.installedQueryMs),
    reproducer: sum((c) => c.timings.harness?.reproducerMs),
    // The first query after a move or reboot: the first installed-set read of a freshly booted guest.
    afterBoot: sum((c) => c.steps.filter((s) => s.action === 'move-to' || s.action === 'reboot').reduce((a, s) => a + (s.commands.find((m) => m.role === 'query')?.durationMs ?? 0), 0)),
    tail: Math.round((run.durationMs / 1000 - cellS / run.workers) * 10) / 10,
  };
}

const read = async (file: string) => JSON.parse(await readFile(file, 'utf8')) as RunResult;
const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ')[0]!;
const cpu = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';

interface Row {
  readonly build: string;
  readonly load: string;
  readonly processS: number;
  readonly profile: Record<string, number>;
  readonly differences: readonly string[];
}

const rows: Row[] = [];
let reference = values.reference ? (await read(values.reference)).cells : undefined;
if (values.compare) {
  for (const file of positionals) {
    const run = await read(file);
    reference ??= run.cells;
    rows.push({ build: path.basename(file), load: '', processS: NaN, profile: profile(run), differences: verdictDifferences(reference, run.cells, values.subset) });
  }
} else {
  const here = fileURLToPath(new URL('../runners/cli.js', import.meta.url));
  const builds: [string, string][] = [['this', here], ...(values.base ? [['base', path.join(values.base, 'dist/runners/cli.js')] as [string, string]] : [])];
  const levels = (values.level ?? ['v3']).flatMap((l) => ['--level', l]);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-gate-ab-'));
  if (values.keep) await mkdir(values.keep, { recursive: true });
  try {
    for (let i = 1; i <= Number(values.runs); i++) {
      // Alternate, and swap who goes first each round, so a trend in the host's load falls on both.
      for (const [name, cli] of i % 2 ? builds : [...builds].reverse()) {
        const json = path.join(scratch, `${name}-${i}.json`);
        const loadAtStart = await load();
        const started = performance.now();
        await execa('node', [cli, 'gate', ...levels, '--json', json, '--evidence', path.join(scratch, 'evidence'), ...positionals], { reject: false, stdout: 'ignore', stderr: 'inherit' });
        const processS = Math.round((performance.now() - started) / 100) / 10;
        const run = await read(json);
        reference ??= run.cells;
        rows.push({ build: `${name} ${i}`, load: loadAtStart, processS, profile: profile(run), differences: verdictDifferences(reference, run.cells, values.subset) });
        process.stderr.write(`${name} ${i}: ${processS} s, load ${loadAtStart}, ${rows.at(-1)!.differences.length} verdicts differ\n`);
        if (values.keep) await copyFile(json, path.join(values.keep, `${name}-${i}.json`));
        await rm(path.join(scratch, 'evidence'), { recursive: true, force: true });
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const columns = ['wall', 'cells', 'boot', 'packageManager', 'harness', 'detect', 'powerOff', 'installedQuery', 'reproducer', 'afterBoot', 'tail'];
const lines = [
  `Host: ${os.availableParallelism()} × ${cpu}; load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end. Seconds; cells and its parts summed over the cells; afterBoot: the first query after each move or reboot; tail = wall − cells / workers.`,
  '',
  `| run | load at start | process | ${columns.join(' | ')} | verdicts differing |`,
  `|---|---|---|${columns.map(() => '---|').join('')}---|`,
  ...rows.map((r) => `| ${r.build} | ${r.load} | ${Number.isNaN(r.processS) ? '' : r.processS} | ${columns.map((c) => r.profile[c]).join(' | ')} | ${r.differences.length} |`),
];
for (const name of new Set(rows.map((r) => r.build.split(' ')[0]!))) {
  const mine = rows.filter((r) => r.build.split(' ')[0] === name);
  const m = (xs: number[]) => Math.round(median(xs) * 10) / 10;
  if (mine.length > 1) lines.push(`| **${name}, median of ${mine.length}** | | ${m(mine.map((r) => r.processS))} | ${columns.map((c) => m(mine.map((r) => r.profile[c]!))).join(' | ')} | |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
for (const r of rows) for (const d of r.differences) process.stdout.write(`${r.build}: ${d}\n`);
process.exitCode = rows.some((r) => r.differences.length) ? 1 : 0;
