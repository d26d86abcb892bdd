// `levelgate gate`: the scenario catalog × levels × drivers on the default guest, one
// line per cell, a summary, and one exit code for the whole matrix.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import { chooseAccel, type AccelChoice } from '../harness/accel/choose.js';
import { probeAll } from '../harness/accel/probe.js';
import { ensureFixtures } from '../harness/fixtures/build.js';
import { ensureImage } from '../harness/image/build.js';
import { LEVEL_NAMES, type LevelName } from '../harness/levels/table.js';
import { planCells } from '../harness/plan/plan.js';
import { runCell, type CellResult, type Verdict } from '../harness/run/cell.js';
import { DRIVER_NAMES, type DriverName } from '../harness/scenario/types.js';
import { UsageError } from '../harness/util/errors.js';
import { formatSeconds, stderrLog } from '../harness/util/log.js';
import { CATALOG } from '../scenarios/index.js';
import { KNOWN_ISSUES } from '../scenarios/known-issues.js';
import { resolveAccel, resolveLevel } from './resolve.js';
import { createRunContext, EXIT, exitCodeFor, reportError } from './run-context.js';

export const GATE_USAGE = `usage: levelgate gate [options]

Runs every scenario of the catalog for every driver at every level this host can
provide, and reports each cell as pass, fail, xfail (known issue), xpass (a known
issue that passed: remove the entry), skip (with the reason) or error.

  --level LEVEL      only this level (repeatable)
  --driver NAME      only this driver: ${DRIVER_NAMES.join(', ')} (repeatable)
  --scenario ID      only this scenario (repeatable)
  --grep TEXT        only cells whose id contains TEXT (or matches /REGEX/)
  --tag TAG          only scenarios with this tag (repeatable)
  --accel ACCEL      auto (default), tcg or kvm
  --workers N        cells run at once (default 1)
  --json PATH        write one record per cell (default reports/gate.json)
  --evidence DIR     console logs per cell (default reports/evidence)

Exit: 0 every cell passed, is a known issue or was skipped; 1 a cell failed or a
known issue passed; 2 bad usage; 3 infrastructure (a cell errored, setup failed).`;

const MARK: Record<Verdict, string> = { pass: 'PASS ', fail: 'FAIL ', xfail: 'XFAIL', xpass: 'XPASS', skip: 'SKIP ', error: 'ERROR' };

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
        accel: { type: 'string' },
        workers: { type: 'string' },
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
    const drivers = (values.driver ?? []).map((d) => {
      if (!(DRIVER_NAMES as readonly string[]).includes(d)) throw new UsageError(`--driver: '${d}' is not a driver; known: ${DRIVER_NAMES.join(', ')}`);
      return d as DriverName;
    });
    const workers = values.workers === undefined ? 1 : Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers: '${values.workers}' is not a whole number of at least 1`);
    const accel = resolveAccel(values.accel);
    const cells = planCells(CATALOG, {
      levels,
      drivers,
      ...(values.scenario ? { scenarios: values.scenario } : {}),
      ...(values.grep ? { grep: values.grep } : {}),
      ...(values.tag ? { tags: values.tag } : {}),
    });
    if (cells.length === 0) throw new UsageError('the filters select no cell');
    const jsonPath = path.resolve(values.json ?? 'reports/gate.json');
    const evidenceDir = path.resolve(values.evidence ?? 'reports/evidence');

    const started = performance.now();
    const image = await ensureImage({ log: stderrLog, signal: context.signal });
    const fixtures = await ensureFixtures(CATALOG, image, { log: stderrLog, signal: context.signal });
    const probes = await probeAll(accel === 'auto' ? ['kvm', 'tcg'] : [accel], LEVEL_NAMES, image);
    const choices = new Map<LevelName, AccelChoice>(LEVEL_NAMES.map((l) => [l, chooseAccel(l, accel, probes)]));
    stderrLog(`gate: ${cells.length} cells, ${workers} at a time; image ${image.digest}, fixtures ${fixtures.digest}`);

    const today = new Date().toISOString().slice(0, 10);
    const results: CellResult[] = [];
    const queue = new PQueue({ concurrency: workers });
    for (const cell of cells) {
      void queue.add(async () => {
        if (context.signal.aborted) return;
        const result = await runCell(cell, { image, fixtures, accel: (l) => choices.get(l)!, knownIssues: KNOWN_ISSUES, evidenceDir, today, signal: context.signal });
        results.push(result);
        process.stdout.write(`${MARK[result.verdict]} ${cell.id.padEnd(42)} ${formatSeconds(result.timings.totalMs).padStart(7)}  ${result.verdict === 'pass' ? '' : result.reason}\n`);
        for (const expiredIssue of result.expiredKnownIssues) process.stdout.write(`      known issue expired on ${expiredIssue.expires}: ${expiredIssue.tracker}\n`);
      });
    }
    await queue.onIdle();
    const order = new Map(cells.map((c, i) => [c.id, i]));
    results.sort((a, b) => order.get(a.id)! - order.get(b.id)!);

    const counts = Object.fromEntries((['pass', 'fail', 'xfail', 'xpass', 'skip', 'error'] as const).map((v) => [v, results.filter((r) => r.verdict === v).length]));
    const interrupted = context.signal.aborted;
    await mkdir(path.dirname(jsonPath), { recursive: true });
    await writeFile(jsonPath, `${JSON.stringify({ interrupted, image: image.digest, fixtures: fixtures.digest, counts, cells: results }, null, 2)}\n`);
    process.stdout.write(
      `\n${results.length}/${cells.length} cells in ${formatSeconds(performance.now() - started)}: ` +
        `${counts.pass} passed, ${counts.fail} failed, ${counts.xfail} xfail, ${counts.xpass} xpass, ${counts.skip} skipped, ${counts.error} errors${interrupted ? ' (interrupted)' : ''}\n` +
        `results: ${jsonPath}\nevidence: ${evidenceDir}\n`,
    );
    if (interrupted) return exitCodeFor(new Error('interrupted'), context);
    if (counts.fail! > 0 || counts.xpass! > 0) return EXIT.failed;
    if (counts.error! > 0) return EXIT.infrastructure;
    return EXIT.ok;
  } catch (error) {
    reportError(error);
    return exitCodeFor(error, context);
  } finally {
    context.dispose();
  }
}
