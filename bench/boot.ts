// Benchmark: per level, a cold boot to a proven guest and a restore from the level's
// snapshot to a guest that answers (its cpuinfo read back), plus the command round trip.
// One guest at a time. Usage: npm run bench [-- --runs N --level vN... --cold-only]
// Prints a Markdown table for BENCHMARKS.md.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dir } from 'tmp-promise';
import { placePinned } from '../harness/accel/pinned.js';
import { ensureImage } from '../harness/image/build.js';
import { LEVEL_NAMES } from '../harness/levels/table.js';
import { stderrLog } from '../harness/util/log.js';
import { median } from './median.js';
import { exactTarget } from '../harness/levels/targets.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, execs: { type: 'string', default: '20' }, level: { type: 'string', multiple: true } } });
const runs = Number(values.runs);
const execs = Number(values.execs);
const range = (xs: number[]) => `${median(xs)} ms (${Math.min(...xs)}–${Math.max(...xs)})`;

const image = await ensureImage({ log: stderrLog });
const scratch = await dir({ prefix: 'levelgate-bench-boot-', unsafeCleanup: true });
const rows: string[] = [];
for (const level of LEVEL_NAMES.filter((l) => !values.level || values.level.includes(l))) {
  const choice = await placePinned(level, 'auto', image);
  if (choice.accel === null) {
    rows.push(`| ${level} | — | skipped: ${choice.skipReason} | | | | |`);
    continue;
  }
  const backend = choice.backend;
  const ready: number[] = [];
  const proof: number[] = [];
  const restored: number[] = [];
  const rttStatic: number[] = [];
  const rttDynamic: number[] = [];
  const snapshot = await backend.snapshots?.ensure({ image, target: exactTarget(level), dataDisks: [], options: { log: stderrLog } });
  for (let run = 0; run < runs; run++) {
    {
      await using guest = await backend.boot({ image, level, tmpDir: scratch.path });
      ready.push(guest.timings.bootToReadyMs);
      proof.push(guest.timings.proofMs);
      for (let i = 0; i < execs; i++) {
        // Static no-op: the channel and a fork/exec in the guest.
        rttStatic.push((await guest.exec(['/usr/lib/levelgate/canary', 'none'])).durationMs);
        // Dynamically linked /usr/bin/true: adds ld.so's work, emulated.
        rttDynamic.push((await guest.exec(['true'])).durationMs);
      }
    }
    if (snapshot) {
      const disk = await snapshot.newDiskState(path.join(scratch.path, `disk-${run}`));
      await using guest = await snapshot.restore({ image, level, disk, tmpDir: scratch.path });
      restored.push(guest.timings.bootToReadyMs);
    }
    stderrLog(`${level} run ${run + 1}/${runs}: boot ${ready.at(-1)} ms + proof ${proof.at(-1)} ms${snapshot ? `; restore ${restored.at(-1)} ms` : ''}`);
  }
  rows.push(
    `| ${level} | ${backend.title} | ${range(ready)} | ${median(proof)} ms | ${snapshot ? range(restored) : 'no snapshots'} | ${median(rttStatic).toFixed(1)} ms | ${median(rttDynamic).toFixed(1)} ms |`,
  );
}
await scratch.cleanup();
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  [
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; image ${image.digest} (kernel ${image.manifest.kernel.release}); ${runs} runs per level, ${execs} commands per boot.`,
    '',
    '| level | backend | cold boot → agent ready, median (min–max) | + level proof | snapshot restore → answering, median (min–max) | round trip, static no-op | round trip, `true` (dynamic) |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
