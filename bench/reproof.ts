// Benchmark: what proving a restored guest again costs per cell. A QEMU TCG snapshot of
// each level is restored N times; per restore: the wake (agent answers), the live
// re-proof (CPUID by a new process, ld.so --help, the canaries), and the detectors asked
// live in the cell, each with the host's load. Snapshots go to a scratch cache.
// Usage: npm run bench:reproof [-- --runs N --level v2 --level v3]   (prints a Markdown table)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ensureQemuSnapshot } from '../harness/guest/qemu-snapshot.js';
import { QemuGuest } from '../harness/guest/qemu-guest.js';
import { ensureImage } from '../harness/image/build.js';
import { askDetectors } from '../harness/drivers/detectors.js';
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
try {
  for (const level of levels) {
    const snapshot = await ensureQemuSnapshot({ image, level, accel: 'tcg', dataDisks: [] }, { cacheDir: scratch, log: stderrLog, bootTimeoutMs: 300_000 });
    const wake: number[] = [];
    const proof: number[] = [];
    const detectors: number[] = [];
    const loads: number[] = [];
    for (let i = 0; i < runs; i++) {
      loads.push(os.loadavg()[0]!);
      const guest = await QemuGuest.restore({ image, level, accel: 'tcg', tmpDir: scratch, bootTimeoutMs: 300_000 }, snapshot);
      try {
        wake.push(guest.timings.bootToReadyMs);
        proof.push(guest.timings.proofMs);
        const started = performance.now();
        await askDetectors((argv, timeoutMs) => guest.exec(argv, { timeoutMs }), 120_000);
        detectors.push(performance.now() - started);
      } finally {
        await guest.dispose();
      }
      stderrLog(`${level} restore ${i + 1}/${runs}: wake ${wake.at(-1)} ms, re-proof ${proof.at(-1)} ms, detectors ${Math.round(detectors.at(-1)!)} ms`);
    }
    rows.push(`| ${level} | ${runs} | ${range(wake)} | ${range(proof)} | ${range(detectors)} | ${range(loads, 1)} |`);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
process.stdout.write(
  ['| level (QEMU TCG) | restores | wake, ms | live re-proof, ms | detectors asked live, ms | host load (1 min) |', '|---|---|---|---|---|---|', ...rows].join('\n') + '\n',
);
