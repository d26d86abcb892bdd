// Benchmark: time per scenario cell, split into guest start (restore or boot, and
// proof), package-manager commands, the programs the checks run, and the harness's own
// work (queries of the rpm database, disks, evaluation, teardown). One cell at a time.
// Usage: npm run bench:cells [-- --runs N --level v3 --scenario ID... --driver NAME... --cold-boot]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LevelName } from '../harness/levels/table.js';
import type { DriverName } from '../harness/model/package-manager.js';
import { planCells } from '../harness/plan/plan.js';
import type { CellResult, CellTimingName } from '../harness/results/types.js';
import { runCell } from '../harness/run/cell.js';
import { prepareRun } from '../harness/run/prepare.js';
import { stderrLog } from '../harness/util/log.js';
import { median } from './median.js';
import { CATALOG } from '../scenarios/index.js';
import { KNOWN_ISSUES } from '../scenarios/known-issues.js';
import { exactTarget } from '../harness/levels/targets.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, level: { type: 'string', default: 'v3' }, scenario: { type: 'string', multiple: true }, driver: { type: 'string', multiple: true }, 'cold-boot': { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
const level = values.level as LevelName;

const prepared = await prepareRun(CATALOG, 'auto', { log: stderrLog, snapshots: !values['cold-boot'] });
await prepared.guests.prepare([{ target: exactTarget(level), accel: prepared.accel(level).accel }]);
const cells = planCells(CATALOG, { targets: [level], ...(values.scenario ? { scenarios: values.scenario } : {}), ...(values.driver ? { drivers: values.driver as DriverName[] } : {}) });
const results = new Map<string, CellResult[]>();
// Console logs of the benchmark's cells: kept while it runs, removed at the end.
const evidence = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-evidence-'));
for (let run = 0; run < runs; run++) {
  for (const cell of cells) {
    const result = await runCell(cell, { ...prepared, knownIssues: KNOWN_ISSUES, evidenceDir: evidence, today: new Date().toISOString().slice(0, 10) });
    results.set(cell.id, [...(results.get(cell.id) ?? []), result]);
    stderrLog(`run ${run + 1}/${runs} ${cell.id}: ${result.verdict} ${result.timings.totalMs} ms`);
  }
}
await rm(evidence, { recursive: true, force: true });
type Timing = CellTimingName;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rows = [...results.entries()].map(([id, rs]) => {
  const t = (k: Timing) => median(rs.map((r) => r.timings[k]));
  const total = t('totalMs');
  return `| ${id} | ${rs[0]!.verdict} | ${s(total)} | ${s(t('bootMs'))} | ${s(t('packageManagerMs'))} (${Math.round((100 * t('packageManagerMs')) / total)} %) | ${s(t('programMs'))} | ${s(t('harnessMs'))} |`;
});
const sum = (k: Timing) => [...results.values()].reduce((a, rs) => a + median(rs.map((r) => r.timings[k])), 0);
const n = results.size;
process.stdout.write(
  [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; image ${prepared.image.digest}, fixtures ${prepared.fixtures?.digest ?? 'none'}; level ${level}, guests ${values['cold-boot'] ? 'booted cold' : 'restored from snapshots'}; one cell at a time, median of ${runs} runs.`,
    '',
    '| cell | verdict | total | guest start (+ proof) | package manager | programs | harness |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    `| **all ${n} cells** | | ${s(sum('totalMs'))} | ${s(sum('bootMs'))} | ${s(sum('packageManagerMs'))} (${Math.round((100 * sum('packageManagerMs')) / sum('totalMs'))} %) | ${s(sum('programMs'))} | ${s(sum('harnessMs'))} |`,
    `| **per cell** | | ${s(sum('totalMs') / n)} | ${s(sum('bootMs') / n)} | ${s(sum('packageManagerMs') / n)} | ${s(sum('programMs') / n)} | ${s(sum('harnessMs') / n)} |`,
    '',
  ].join('\n'),
);
