// `levelgate gate`: the scenario catalog × levels × drivers, in parallel under the
// host's budget, with a line per cell (a live status line on a terminal), JUnit, HTML
// and JSON reports, and one exit code for the whole matrix.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { planCells } from '../harness/plan/plan.js';
import { parseShard, shardCells } from '../harness/plan/shard.js';
import { htmlReporter } from '../harness/report/html.js';
import { jsonReporter } from '../harness/report/json.js';
import { junitReporter } from '../harness/report/junit.js';
import { ReporterSet } from '../harness/report/reporter.js';
import { terminalReporter } from '../harness/report/terminal.js';
import { defaultWorkers, loadFactor } from '../harness/run/budget.js';
import { runGate } from '../harness/run/gate-run.js';
import { prepareRun } from '../harness/run/prepare.js';
import { exitCodeOf } from '../harness/run/run-result.js';
import { DRIVER_NAMES } from '../harness/scenario/types.js';
import { UsageError } from '../harness/util/errors.js';
import { stderrLog } from '../harness/util/log.js';
import { CATALOG } from '../scenarios/index.js';
import { KNOWN_ISSUES } from '../scenarios/known-issues.js';
import { resolveAccel, resolveDriver, resolveLevel, resolveSeconds } from './resolve.js';
import { createRunContext, EXIT, exitCodeFor, reportError } from './run-context.js';

export const GATE_USAGE = `usage: levelgate gate [options]

Runs every scenario of the catalog for every driver at every level this host can
provide, and reports each cell as pass, fail, xfail (known issue), xpass (a known
issue that passed: remove the entry), skip (with the reason) or error.

Selection:
  --level LEVEL        only this level (repeatable); one CPU model per CI job
  --driver NAME        only this driver: ${DRIVER_NAMES.join(', ')} (repeatable)
  --scenario ID        only this scenario (repeatable)
  --grep TEXT          only cells whose id contains TEXT (or matches /REGEX/)
  --tag TAG            only scenarios with this tag (repeatable)
  --shard I/N          only the I-th of N deterministic slices (whole scenario×level groups)
Running:
  --accel ACCEL        auto (default: KVM, else QEMU TCG, else Bochs for v4), tcg, kvm or bochs
  --workers N          cells at once (default: one per core, as memory allows)
  --cell-timeout S     end a cell as an error after S seconds (default 600, scaled by load;
                       Bochs cells get 25 times as long: it interprets every instruction)
  --retries N          retry a cell after an infrastructure error (default 1; shown as flaky)
Reports (paths are printed at the end):
  --junit PATH         JUnit XML (default reports/junit.xml)
  --html PATH          self-contained HTML (default reports/report.html)
  --json PATH          one record per cell (default reports/gate.json; levelgate merge reads it)
  --evidence DIR       console logs per cell (default reports/evidence)

Exit: 0 every cell passed, is a known issue or was skipped; 1 a cell failed or a
known issue passed; 2 bad usage; 3 infrastructure (a cell errored, setup failed);
130/143 interrupted (the reports are still written, marked interrupted).`;

export async function gateCommand(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        level: { type: 'string', multiple: true },
        driver: { type: 'string', multiple: true },
        scenario: { type: 'string', multiple: true },
        grep: { type: 'string' },
        tag: { type: 'string', multiple: true },
        shard: { type: 'string' },
        accel: { type: 'string' },
        workers: { type: 'string' },
        'cell-timeout': { type: 'string' },
        retries: { type: 'string' },
        junit: { type: 'string' },
        html: { type: 'string' },
        json: { type: 'string' },
        evidence: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    reportError(new UsageError(`gate: ${(error as Error).message}`, { hint: 'see levelgate gate --help' }));
    return EXIT.usage;
  }
  if (values.help) {
    process.stdout.write(`${GATE_USAGE}\n`);
    return EXIT.ok;
  }
  const context = createRunContext();
  try {
    const levels = (values.level ?? []).map((l) => resolveLevel(l));
    const drivers = (values.driver ?? []).map((d) => resolveDriver(d));
    const workers = values.workers === undefined ? defaultWorkers() : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers: '${values.workers}' is not a whole number of at least 1`);
    const retries = values.retries === undefined ? 1 : Number(values.retries);
    if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`--retries: '${values.retries}' is not a whole number of at least 0`);
    const cellTimeoutMs = resolveSeconds(values['cell-timeout'], '--cell-timeout') ?? 600_000 * loadFactor(workers);
    const accel = resolveAccel(values.accel);
    const shard = values.shard ? parseShard(values.shard) : undefined;
    let cells = planCells(CATALOG, {
      levels,
      drivers,
      ...(values.scenario ? { scenarios: values.scenario } : {}),
      ...(values.grep ? { grep: values.grep } : {}),
      ...(values.tag ? { tags: values.tag } : {}),
    });
    if (shard) cells = shardCells(cells, shard);
    if (cells.length === 0) throw new UsageError(`the filters select no cell${shard ? ` (shard ${values.shard} is empty)` : ''}`);

    const prepared = await prepareRun(CATALOG, accel, { log: stderrLog, signal: context.signal });
    const evidenceDir = path.resolve(values.evidence ?? 'reports/evidence');
    const reporters = new ReporterSet([
      terminalReporter(),
      jsonReporter(path.resolve(values.json ?? 'reports/gate.json')),
      junitReporter(path.resolve(values.junit ?? 'reports/junit.xml')),
      htmlReporter(path.resolve(values.html ?? 'reports/report.html')),
    ]);
    const run = await runGate({
      cells,
      workers,
      environment: {
        ...prepared,
        knownIssues: KNOWN_ISSUES,
        evidenceDir,
        today: new Date().toISOString().slice(0, 10),
        accelRequest: accel,
        timeScale: loadFactor(workers),
      },
      reporters,
      signal: context.signal,
      cellTimeoutMs,
      retries,
      ...(values.shard ? { shard: values.shard } : {}),
    });
    const written = await reporters.onEnd(run);
    for (const { reporter, path: file } of written) process.stdout.write(`${reporter.padEnd(6)} ${file}\n`);
    process.stdout.write(`evidence ${evidenceDir}\n`);
    if (run.interrupted) return exitCodeFor(new Error('interrupted'), context);
    return exitCodeOf(run);
  } catch (error) {
    reportError(error);
    return exitCodeFor(error, context);
  } finally {
    context.dispose();
  }
}
