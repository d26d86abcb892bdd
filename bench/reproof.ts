// Benchmark: what proving a restored guest again costs per cell. A QEMU TCG snapshot of
// each level is restored N times; per restore: the wake (agent answers), the live
// re-proof (CPUID by a new process, ld.so --help, the canaries), and the detectors asked
// live in the cell, each with the host's load; then what a cell's facts ask (each
// driver's detectors, factDetectors) against every detector, in the same guest, the
// order rotated per restore. Snapshots go to a scratch cache.
// Usage: npm run bench:reproof [-- --runs N --level v2 --level v3]   (prints Markdown tables)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureQemuSnapshot } from '../harness/guest/qemu-snapshot.js';
import { QemuGuest } from '../harness/guest/qemu-guest.js';
import { ensureImage } from '../harness/image/build.js';
import { askDetectors, DETECTORS, factDetectors, type DetectorName } from '../harness/drivers/detectors.js';
import { DRIVER_NAMES } from '../harness/model/package-manager.js';
import { parseLevelName, type LevelName } from '../harness/levels/table.js';
import { stderrLog } from '../harness/util/log.js';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, level: { type: 'string', multiple: true } } });
const runs = Number(values.runs);
const levels = (values.level ?? ['v2', 'v3']).map((l) => parseLevelName(l) as LevelName);
const image = await ensureImage({ log: stderrLog });
const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-reproof-'));
const range = (xs: readonly number[], digits = 0) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
const rows: string[] = [];
/** The detector sets timed per restore: every one (what every cell asked before), then each driver's facts. */
const SETS: readonly (readonly [string, readonly DetectorName[]])[] = [['every detector', DETECTORS], ...DRIVER_NAMES.map((d) => [`${d} cell's facts`, factDetectors(d, false)] as const)];
const setRows: string[] = [];
try {
  for (const level of levels) {
    const snapshot = await ensureQemuSnapshot({ image, level, accel: 'tcg', dataDisks: [] }, { cacheDir: scratch, log: stderrLog, bootTimeoutMs: 300_000 });
    const wake: number[] = [];
    const proof: number[] = [];
    const detectors: number[] = [];
    const loads: number[] = [];
    const bySet = SETS.map(() => [] as number[]);
    for (let i = 0; i < runs; i++) {
      loads.push(os.loadavg()[0]!);
      const guest = await QemuGuest.restore({ image, level, accel: 'tcg', tmpDir: scratch, bootTimeoutMs: 300_000 }, snapshot);
      try {
        wake.push(guest.timings.bootToReadyMs);
        proof.push(guest.timings.proofMs);
        const started = performance.now();
        await askDetectors((argv, timeoutMs) => guest.exec(argv, { timeoutMs }), 120_000);
        detectors.push(performance.now() - started);
        for (let k = 0; k < SETS.length; k++) {
          const j = (i + k) % SETS.length;
          const at = performance.now();
          await askDetectors((argv, timeoutMs) => guest.exec(argv, { timeoutMs }), 120_000, SETS[j]![1]);
          bySet[j]!.push(performance.now() - at);
        }
      } finally {
        await guest.dispose();
      }
      stderrLog(`${level} restore ${i + 1}/${runs}: wake ${wake.at(-1)} ms, re-proof ${proof.at(-1)} ms, detectors ${Math.round(detectors.at(-1)!)} ms`);
    }
    rows.push(`| ${level} | ${runs} | ${range(wake)} | ${range(proof)} | ${range(detectors)} | ${range(loads, 1)} |`);
    setRows.push(...SETS.map(([name, set], j) => `| ${level} | ${name} | ${set.join(' ')} | ${range(bySet[j]!)} |`));
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
process.stdout.write(
  [
    '| level (QEMU TCG) | restores | wake, ms | live re-proof, ms | detectors asked live, ms | host load (1 min) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    `Then in the same guests, each set once per restore, the order rotated (${os.cpus()[0]?.model ?? 'CPU'}):`,
    '',
    '| level | detectors asked | which | ms, median (min–max) |',
    '|---|---|---|---|',
    ...setRows,
  ].join('\n') + '\n',
);
