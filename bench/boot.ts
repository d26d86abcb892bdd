// Benchmark: cold boot-to-ready and command round trip per level, one guest at a time.
// Usage: npm run bench [-- --runs N --level vN...]   (prints a Markdown table for BENCHMARKS.md)
import os from 'node:os';
import { parseArgs } from 'node:util';
import { resolveAccelChoice } from '../harness/guest/pinned.js';
import { bootGuest } from '../harness/guest/boot-guest.js';
import { ensureImage } from '../harness/image/build.js';
import { LEVEL_NAMES } from '../harness/levels/table.js';
import { stderrLog } from '../harness/util/log.js';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, execs: { type: 'string', default: '20' }, level: { type: 'string', multiple: true } } });
const runs = Number(values.runs);
const execs = Number(values.execs);


const image = await ensureImage({ log: stderrLog });
const rows: string[] = [];
for (const level of LEVEL_NAMES.filter((l) => !values.level || values.level.includes(l))) {
  const choice = await resolveAccelChoice(level, 'auto', image);
  if (choice.accel === null) {
    rows.push(`| ${level} | — | skipped: ${choice.skipReason} | | | | |`);
    continue;
  }
  const ready: number[] = [];
  const proof: number[] = [];
  const rttStatic: number[] = [];
  const rttDynamic: number[] = [];
  for (let run = 0; run < runs; run++) {
    await using guest = await bootGuest({ image, level, accel: choice.accel });
    ready.push(guest.timings.bootToReadyMs);
    proof.push(guest.timings.proofMs);
    for (let i = 0; i < execs; i++) {
      // Static no-op: the channel and a fork/exec in the guest.
      rttStatic.push((await guest.exec(['/usr/lib/levelgate/canary', 'none'])).durationMs);
      // Dynamically linked /usr/bin/true: adds ld.so's work, emulated.
      rttDynamic.push((await guest.exec(['true'])).durationMs);
    }
    stderrLog(`${level} run ${run + 1}/${runs}: ready ${guest.timings.bootToReadyMs} ms, proof ${guest.timings.proofMs} ms`);
  }
  rows.push(
    `| ${level} | ${choice.accel} | ${median(ready)} ms (${Math.min(...ready)}–${Math.max(...ready)}) | ${median(proof)} ms | ${median(rttStatic).toFixed(1)} ms | ${median(rttDynamic).toFixed(1)} ms |`,
  );
}
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  [
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}; image ${image.digest} (kernel ${image.manifest.kernel.release}); ${runs} cold boots per level, ${execs} commands per boot.`,
    '',
    '| level | accel | boot → agent ready, median (min–max) | level proof | round trip, static no-op | round trip, `true` (dynamic) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
