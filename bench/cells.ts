// Benchmark: time per scenario cell, split into guest boot, package-manager commands and
// the harness's own work (rpm database reads, program runs, evaluation, teardown).
// Usage: npm run bench:cells [-- --runs N --level v3 --scenario ID...]
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { LevelName } from '../harness/levels/table.js';
import { planCells } from '../harness/plan/plan.js';
import type { CellResult } from '../harness/results/types.js';
import { runCell } from '../harness/run/cell.js';
import { prepareRun } from '../harness/run/prepare.js';
import { stderrLog } from '../harness/util/log.js';
import { median } from './median.js';
import { CATALOG } from '../scenarios/index.js';
import { KNOWN_ISSUES } from '../scenarios/known-issues.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, level: { type: 'string', default: 'v3' }, scenario: { type: 'string', multiple: true } } });
const runs = Number(values.runs);
const level = values.level as LevelName;

const prepared = await prepareRun(CATALOG, 'auto', { log: stderrLog });
const { artifacts: image, fixtures } = prepared;
const cells = planCells(CATALOG, { levels: [level], ...(values.scenario ? { scenarios: values.scenario } : {}) });
const results = new Map<string, CellResult[]>();
// Console logs of the benchmark's cells: kept while it runs, removed at the end.
const evidence = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-evidence-'));
for (let run = 0; run < runs; run++) {
  for (const cell of cells) {
    const result = await runCell(cell, {
      ...prepared,
      knownIssues: KNOWN_ISSUES,
      evidenceDir: evidence,
      today: new Date().toISOString().slice(0, 10),
    });
    results.set(cell.id, [...(results.get(cell.id) ?? []), result]);
    stderrLog(`run ${run + 1}/${runs} ${cell.id}: ${result.verdict} ${result.timings.totalMs} ms`);
  }
}
await rm(evidence, { recursive: true, force: true });
const rows = [...results.entries()].map(([id, rs]) => {
  const t = (k: keyof CellResult['timings']) => median(rs.map((r) => r.timings[k]));
  const total = t('totalMs');
  return `| ${id} | ${rs[0]!.verdict} | ${(total / 1000).toFixed(1)} s | ${(t('bootMs') / 1000).toFixed(1)} s | ${(t('packageManagerMs') / 1000).toFixed(1)} s (${Math.round((100 * t('packageManagerMs')) / total)} %) | ${(t('harnessMs') / 1000).toFixed(1)} s |`;
});
const sum = (k: keyof CellResult['timings']) => [...results.values()].reduce((a, rs) => a + median(rs.map((r) => r.timings[k])), 0);
process.stdout.write(
  [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; image ${image.digest}, fixtures ${fixtures.digest}; level ${level}, one cell at a time, median of ${runs} runs.`,
    '',
    '| cell | verdict | total | guest boot (+ proof) | package manager | harness |',
    '|---|---|---|---|---|---|',
    ...rows,
    `| **all ${results.size} cells** | | ${(sum('totalMs') / 1000).toFixed(0)} s | ${(sum('bootMs') / 1000).toFixed(0)} s | ${(sum('packageManagerMs') / 1000).toFixed(0)} s (${Math.round((100 * sum('packageManagerMs')) / sum('totalMs'))} %) | ${(sum('harnessMs') / 1000).toFixed(0)} s |`,
    '',
  ].join('\n'),
);
