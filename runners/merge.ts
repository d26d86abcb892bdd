// `levelgate merge`: combines the results of several jobs (one CPU model or one shard
// each) into one JUnit, HTML and JSON report, and exits by the merged verdicts.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { htmlReporter } from '../harness/report/html.js';
import { jsonReporter, readRunResult } from '../harness/report/json.js';
import { junitReporter } from '../harness/report/junit.js';
import { ReporterSet } from '../harness/report/reporter.js';
import { closingLines } from '../harness/report/terminal.js';
import { countFlaky, countVerdicts, exitCodeOf, expiredIssuesOf } from '../harness/results/summary.js';
import type { CellResult, RunResult } from '../harness/results/types.js';
import { UsageError } from '../harness/util/errors.js';
import { EXIT, exitCodeFor, reportError } from './run-context.js';

export const MERGE_USAGE = `usage: levelgate merge [--junit PATH] [--html PATH] [--json PATH] RESULT.json...

Combines the gate.json files of several jobs (levelgate gate --level L, or --shard I/N)
into one report. A cell present in two inputs is an error (GitLab would keep only the
first). Defaults: reports/merged/junit.xml, report.html, gate.json.`;

export function mergeRuns(runs: readonly { file: string; run: RunResult }[]): RunResult {
  if (runs.length === 0) throw new UsageError('merge: name at least one result file');
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
    unavailableLevels: [...new Map(runs.flatMap((r) => r.run.unavailableLevels).map((u) => [u.level, u])).values()],
    cells,
  };
}

export async function mergeCommand(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { junit: { type: 'string' }, html: { type: 'string' }, json: { type: 'string' }, help: { type: 'boolean', default: false } },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      process.stdout.write(`${MERGE_USAGE}\n`);
      return EXIT.ok;
    }
    const runs = await Promise.all(positionals.map(async (file) => ({ file, run: await readRunResult(file) })));
    const merged = mergeRuns(runs);
    const reporters = new ReporterSet([
      jsonReporter(path.resolve(values.json ?? 'reports/merged/gate.json')),
      junitReporter(path.resolve(values.junit ?? 'reports/merged/junit.xml')),
      htmlReporter(path.resolve(values.html ?? 'reports/merged/report.html')),
    ]);
    const written = await reporters.onEnd(merged);
    process.stdout.write(`merged ${runs.length} results: ${closingLines(merged).join('\n')}\n`);
    for (const { reporter, path: file } of written) process.stdout.write(`${reporter.padEnd(6)} ${file}\n`);
    return merged.interrupted ? EXIT.interrupted : exitCodeOf(merged);
  } catch (error) {
    if (error instanceof TypeError && 'code' in error) {
      reportError(new UsageError(`merge: ${error.message}`, { hint: 'see levelgate merge --help' }));
      return EXIT.usage;
    }
    reportError(error);
    return exitCodeFor(error);
  }
}
