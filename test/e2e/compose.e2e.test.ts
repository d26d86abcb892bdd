// The compose audit on a small generated compose, in real guests: every planted defect
// is found by name at the level and driver where it shows, every healthy name passes,
// and the same names audited one cell per name (gate --variant-audit, today's path)
// get the same verdict in every cell (compared with zypper, the driver that detects the
// level, at both levels: the per-name path boots a guest per cell, the slow part).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ensureCompose } from '../../harness/compose/generate.js';
import { DEFECT_KINDS, plantedDefects, type DefectKind } from '../../harness/compose/model.js';
import { runComposeAudit } from '../../harness/compose/run.js';
import type { CellResult, Deviation } from '../../harness/results/types.js';
import { run } from '../../harness/config/run-project.js';
import { testImage } from './helpers.js';

const LEVELS = ['v2', 'v3'] as const;
const DRIVERS = ['zypper', 'dnf5'] as const;

/** Where each defect shows with zypper (which detects the level), and how. */
const FOUND: Record<DefectKind, { level: (typeof LEVELS)[number]; deviation: Deviation }> = {
  // Its x86_64 build holds v3 code: SIGILL below v3.
  mislabelled: { level: 'v2', deviation: 'sigill' },
  // libsolv takes the older v3 build over the newer x86_64 one.
  lagging: { level: 'v3', deviation: 'older' },
  // The v3 copy in the x86-64-v2 directory: the loader picks it on v2 and its initialiser traps.
  'wrong-hwcaps-dir': { level: 'v2', deviation: 'sigill' },
  'broken-dependency': { level: 'v2', deviation: 'refused' },
  // zypper takes the v3 build on a v3 CPU and cannot install it.
  'unreachable-v3': { level: 'v3', deviation: 'refused' },
};

const failing = (cell: CellResult): Deviation[] => cell.steps.flatMap((s) => s.checks.filter((c) => c.status === 'fail').map((c) => c.deviation!));

test('the compose audit finds every planted defect by name, passes every healthy name, and agrees with the per-name audit in every cell', async (t) => {
  const image = await testImage();
  const compose = await ensureCompose({ packages: 40, variantShare: 0.3, seed: 3, defects: [...DEFECT_KINDS] }, image, { log: t.log });
  const defects = plantedDefects(compose.model);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-e2e-compose-'));
  try {
    const batched = await runComposeAudit({ dir: compose.releases['2'], levels: LEVELS, drivers: DRIVERS, sample: 'all', selectBatch: 50, installBatch: 10, image: () => Promise.resolve(image), evidenceDir: path.join(scratch, 'batched'), log: t.log });
    const names = [...new Set(batched.cells.map((c) => c.scenario))];
    t.true(names.length >= 8, `audited ${names.length} names`);
    t.is(batched.counts.error, 0, batched.cells.filter((c) => c.verdict === 'error').map((c) => `${c.id}: ${c.reason}`).join('\n'));

    for (const [name, kind] of defects) {
      const { level, deviation } = FOUND[kind];
      const cell = batched.cells.find((c) => c.id === `variant-audit.${name}[${level},zypper]`);
      t.is(cell?.verdict, 'fail', `${kind} (${name}) at ${level}/zypper`);
      t.true(failing(cell!).includes(deviation), `${kind} (${name}): ${cell?.reason}`);
    }
    // Every healthy name passes where the tool detects the level (zypper); dnf5 5.4 never takes a variant above x86_64.
    for (const cell of batched.cells.filter((c) => c.driver === 'zypper' && !defects.has(c.scenario.slice('variant-audit.'.length)))) t.is(cell.verdict, 'pass', `${cell.id}: ${cell.reason}`);
    for (const cell of batched.cells.filter((c) => c.driver === 'dnf5' && c.level === 'v3' && !defects.has(c.scenario.slice('variant-audit.'.length)) && !c.pattern?.startsWith('glibc'))) {
      // Both the dry run and the real install show it.
      t.deepEqual([...new Set(failing(cell))], ['arch'], `${cell.id}: dnf5 installs x86_64 on v3: ${cell.reason}`);
    }

    // Today's path: one scenario per name, a cell (guest) per name × level × driver.
    const compared = batched.cells.filter((c) => c.driver === 'zypper');
    const perName = await run({
      repo: [`compose=${compose.releases['2']}`],
      variantAudit: true,
      packages: names.map((s) => s.slice('variant-audit.'.length)),
      tags: ['variant-audit'],
      levels: [...LEVELS],
      drivers: ['zypper'],
      workers: 2,
      reporters: [],
      evidence: path.join(scratch, 'per-name'),
      log: t.log,
    });
    t.is(perName.result.cells.length, compared.length);
    for (const cell of compared) {
      const other = perName.result.cells.find((c) => c.id === cell.id);
      t.is(other?.verdict, cell.verdict, `${cell.id}: batched ${cell.verdict} (${cell.reason}); per name ${other?.verdict} (${other?.reason})`);
      // Each failing deviation of the batched audit is one the per-name cell shows too.
      for (const d of failing(cell)) t.true(failing(other!).includes(d), `${cell.id}: ${d} not in per-name ${failing(other!).join(', ')}`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
