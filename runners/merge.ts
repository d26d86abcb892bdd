// `levelgate merge`: combines the results of several jobs (one CPU model or one shard
// each) into one JUnit, HTML and JSON report, and exits by the merged verdicts. With
// --expect-levels / --expect-shards a job that left no result is an error, not green.
import path from 'node:path';
import { htmlReporter } from '../harness/report/html.js';
import { jsonReporter, readRunResult } from '../harness/report/json.js';
import { junitReporter } from '../harness/report/junit.js';
import { ReporterSet } from '../harness/report/reporter.js';
import { closingLines } from '../harness/report/terminal.js';
import { countFlaky, countVerdicts, EXIT_CODES, exitCodeOf, expiredIssuesOf, idleIssuesOf } from '../harness/results/summary.js';
import type { CellResult, RunResult } from '../harness/results/types.js';
import { InfrastructureError, UsageError } from '../harness/util/errors.js';
import { parseShard } from '../harness/plan/shard.js';
import { resolveCount, resolveTarget } from './resolve.js';
import { defineCommand } from './command.js';

export const MERGE_USAGE = `usage: levelgate merge [--expect-levels L1,L2,...] [--expect-shards N] [--junit PATH] [--html PATH] [--json PATH] RESULT.json...

Combines the gate.json files of several jobs (levelgate gate --level L, or --shard I/N)
into one report. A cell present in two inputs is an error (GitLab would keep only the
first). Defaults: reports/merged/junit.xml, report.html, gate.json.

  --expect-levels L1,L2,...  every one of these levels (or near misses) must have cells
  --expect-shards N          the inputs must be shards 1/N to N/N, each once
A job that left no gate.json then stops the merge with exit 3, naming what is missing
(no report is written). Inputs that are shards (gate --shard I/N) are checked without
being told: every shard 1/N..N/N present (exit 3 otherwise), one N, no shard given twice
for the same levels and drivers (exit 2).`;

export interface MergeExpectations {
  readonly levels?: readonly string[];
  readonly shards?: number;
}

/** The inputs that are shards, with their split parsed. */
const shardsOf = (runs: readonly { file: string; run: RunResult }[]) =>
  runs.flatMap(({ file, run }) => (run.shard ? [{ file, run, shard: parseShard(run.shard, `${file}: shard`) }] : []));

/**
 * Inputs that cannot be shards of one run: shards of different splits (1/2 and 1/3: a
 * name or group would be in two of them or in none), or one shard given twice for the
 * same CPU targets and drivers (a job's result collected twice, or a rerun beside the
 * run). The same shard of another level's job (a matrix of levels × shards) is fine.
 */
export function overlappingShards(runs: readonly { file: string; run: RunResult }[]): string[] {
  const shards = shardsOf(runs);
  const problems: string[] = [];
  const totals = [...new Set(shards.map((s) => s.shard.total))];
  if (totals.length > 1) {
    problems.push(`the inputs are shards of different splits (${shards.map((s) => `${s.file}: ${s.run.shard}`).join(', ')}): shards of one split (I/N, one N) merge into one run`);
  }
  const columns = (run: RunResult) => new Set(run.cells.map((c) => `${c.target},${c.driver}`));
  for (const [i, a] of shards.entries()) {
    for (const b of shards.slice(i + 1)) {
      if (a.run.shard !== b.run.shard) continue;
      const shared = [...columns(a.run)].filter((c) => columns(b.run).has(c));
      if (shared.length > 0) problems.push(`shard ${a.run.shard} is given twice, in ${a.file} and ${b.file} (both at ${shared.join(' ')})`);
    }
  }
  return problems;
}

/**
 * What the inputs lack against what was expected: one line per missing level or shard,
 * or input that is not one of the shards. Inputs that are shards of N expect every
 * shard 1/N..N/N without being told (--expect-shards also catches inputs that are not
 * shards, and a job whose every shard is missing).
 */
export function expectedMissing(runs: readonly { file: string; run: RunResult }[], merged: RunResult, expect: MergeExpectations): string[] {
  const missing: string[] = [];
  const inferred = [...new Set(shardsOf(runs).map((s) => s.shard.total))];
  if (expect.shards === undefined && inferred.length === 1) {
    const total = inferred[0]!;
    const seen = new Set(shardsOf(runs).map((s) => s.shard.index));
    for (let i = 1; i <= total; i++) if (!seen.has(i)) missing.push(`shard ${i}/${total}: no input is that shard (the inputs are shards of ${total})`);
  }
  if (expect.shards !== undefined) {
    const total = expect.shards;
    const seen = new Set<number>();
    for (const { file, run } of runs) {
      if (!run.shard) {
        missing.push(`${file}: is not a shard (run with --shard I/${total})`);
        continue;
      }
      const shard = parseShard(run.shard, `${file}: shard`);
      if (shard.total !== total) missing.push(`${file}: is shard ${run.shard}, not one of ${total}`);
      else seen.add(shard.index);
    }
    for (let i = 1; i <= total; i++) if (!seen.has(i)) missing.push(`shard ${i}/${total}: no input is that shard`);
  }
  for (const level of expect.levels ?? []) {
    if (!merged.cells.some((c) => c.target === level)) missing.push(`level ${level}: no input has a cell at ${level}`);
  }
  return missing;
}

export function mergeRuns(runs: readonly { file: string; run: RunResult }[]): RunResult {
  if (runs.length === 0) throw new UsageError('merge: name at least one result file');
  const overlaps = overlappingShards(runs);
  if (overlaps.length > 0) throw new UsageError(`merge: ${overlaps.join('; ')}`);
  const seen = new Map<string, string>();
  const cells: CellResult[] = [];
  for (const { file, run } of runs) {
    for (const cell of run.cells) {
      const other = seen.get(cell.id);
      if (other) throw new UsageError(`merge: cell ${cell.id} is in both ${other} and ${file}`);
      seen.set(cell.id, file);
      cells.push(cell);
    }
  }
  const distinct = (values: string[]) => [...new Set(values)].join(', ');
  const starts = runs.map((r) => r.run.startedAt).sort();
  return {
    tool: 'levelgate',
    startedAt: starts[0]!,
    durationMs: Math.max(...runs.map((r) => r.run.durationMs)),
    interrupted: runs.some((r) => r.run.interrupted),
    hostname: distinct(runs.map((r) => r.run.hostname)),
    image: distinct(runs.map((r) => r.run.image)),
    fixtures: distinct(runs.map((r) => r.run.fixtures)),
    workers: runs.reduce((n, r) => n + r.run.workers, 0),
    counts: countVerdicts(cells),
    flaky: countFlaky(cells),
    expiredKnownIssues: expiredIssuesOf(cells),
    idleKnownIssues: idleIssuesOf(cells),
    unavailableLevels: [...new Map(runs.flatMap((r) => r.run.unavailableLevels).map((u) => [u.level, u])).values()],
    slowerBackends: [...new Map(runs.flatMap((r) => r.run.slowerBackends ?? []).map((u) => [u.level, u])).values()],
    cells,
  };
}

export const mergeCommand = defineCommand({
  name: 'merge',
  usage: MERGE_USAGE,
  positionals: true,
  options: {
    junit: { type: 'string' },
    html: { type: 'string' },
    json: { type: 'string' },
    'expect-levels': { type: 'string' },
    'expect-shards': { type: 'string' },
  },
  async run(values, positionals) {
    const expect: MergeExpectations = {
      ...(values['expect-levels'] !== undefined ? { levels: values['expect-levels'].split(',').map((l) => resolveTarget(l.trim(), '--expect-levels').name) } : {}),
      ...(values['expect-shards'] !== undefined ? { shards: resolveCount(values['expect-shards'], '--expect-shards', 1)! } : {}),
    };
    const runs = await Promise.all(positionals.map(async (file) => ({ file, run: await readRunResult(file) })));
    const merged = mergeRuns(runs);
    const missing = expectedMissing(runs, merged, expect);
    if (missing.length > 0) {
      throw new InfrastructureError(`merge: ${missing.length} expected result${missing.length > 1 ? 's are' : ' is'} missing: ${missing.join('; ')}`, {
        hint: 'a job of the pipeline left no gate.json (it failed before the gate ran, or its artifact was not collected); nothing was merged',
      });
    }
    const reporters = new ReporterSet([
      jsonReporter(path.resolve(values.json ?? 'reports/merged/gate.json')),
      junitReporter(path.resolve(values.junit ?? 'reports/merged/junit.xml')),
      htmlReporter(path.resolve(values.html ?? 'reports/merged/report.html')),
    ]);
    const written = await reporters.onEnd(merged);
    process.stdout.write(`merged ${runs.length} results: ${closingLines(merged, true).join('\n')}\n`);
    for (const { reporter, path: file } of written) process.stdout.write(`${reporter.padEnd(6)} ${file}\n`);
    return merged.interrupted ? EXIT_CODES.interrupted : exitCodeOf(merged);
  },
});
