// Benchmark: a v4 Bochs guest cold-booted vs restored from a snapshot, to its first
// answered command, per guest memory size; boots and restores alternate, each sample
// with the host's load and the CPU time Bochs used (which a busy host does not stretch).
// Snapshots go to a scratch cache (removed at the end).
// Usage: npm run bench:bochs-snapshot [-- --runs N --memory MiB...]   (prints a Markdown table)
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { ensureFixtures } from '../harness/fixtures/build.js';
import { BOCHS_MEMORY_MIB, BochsGuest } from '../harness/guest/bochs-guest.js';
import { copySavedRootJournal } from '../harness/guest/bochs-restore.js';
import { ensureBochsSnapshot } from '../harness/guest/bochs-snapshot.js';
import { ensureImage } from '../harness/image/build.js';
import { stderrLog } from '../harness/util/log.js';
import { CATALOG } from '../scenarios/index.js';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, memory: { type: 'string', multiple: true } } });
const runs = Number(values.runs);
const memories = (values.memory ?? [String(BOCHS_MEMORY_MIB)]).map(Number);

const image = await ensureImage({ log: stderrLog });
const fixtures = await ensureFixtures(CATALOG, image, { log: stderrLog });
const dataDisks = [{ name: 'fixtures', path: fixtures.disk }];
const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-bochs-'));
const load = () => os.loadavg()[0]!;
const range = (xs: readonly number[], digits = 0) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
/** CPU seconds (user + system) the guest's bochs-bin has used so far. */
async function bochsCpuSeconds(guest: BochsGuest): Promise<number> {
  const tmp = path.dirname(guest.spec.logFile);
  const found = await execa('pgrep', ['-f', `^bochs-bin .*${tmp}/`], { reject: false });
  const pid = found.stdout.trim().split('\n')[0];
  if (!pid) return Number.NaN;
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const rows: string[] = [];
try {
  for (const memoryMiB of memories) {
    const made = performance.now();
    const snapshot = await ensureBochsSnapshot({ image, level: 'v4', dataDisks, memoryMiB }, { cacheDir: path.join(scratch, 'cache'), log: stderrLog });
    const makeMs = Math.round(performance.now() - made);
    const boot: number[] = [];
    const restore: number[] = [];
    const bootCpu: number[] = [];
    const restoreCpu: number[] = [];
    const loads: number[] = [];
    for (let run = 0; run < runs; run++) {
      loads.push(load());
      let started = performance.now();
      {
        await using guest = await BochsGuest.boot({ image, level: 'v4', memoryMiB, dataDisks, tmpDir: scratch });
        await guest.exec(['true']);
        boot.push(Math.round(performance.now() - started));
        bootCpu.push(await bochsCpuSeconds(guest));
      }
      loads.push(load());
      const disk = path.join(scratch, `cell-${memoryMiB}-${run}.redolog`);
      started = performance.now();
      await copySavedRootJournal(snapshot, disk);
      {
        await using guest = await BochsGuest.restore({ image, level: 'v4', disk, dataDisks, tmpDir: scratch }, snapshot);
        await guest.exec(['true']);
        restore.push(Math.round(performance.now() - started));
        restoreCpu.push(await bochsCpuSeconds(guest));
      }
      stderrLog(`${memoryMiB} MiB run ${run + 1}/${runs}: boot ${boot.at(-1)} ms (${bootCpu.at(-1)} s CPU), restore ${restore.at(-1)} ms (${restoreCpu.at(-1)} s CPU) (load ${load().toFixed(1)})`);
    }
    rows.push(
      `| ${memoryMiB} MiB | ${range(boot)} ms | ${range(restore)} ms | ${(median(boot) / median(restore)).toFixed(1)}× | ${range(bootCpu, 2)} s | ${range(restoreCpu, 2)} s | ${snapshot.manifest.saveMs} ms | ${(makeMs / 1000).toFixed(1)} s | ${range(loads, 1)} |`,
    );
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(
  [
    `Machine: ${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}; image ${image.digest}; ${runs} boots and ${runs} restores per size, alternating; times to the first answered command.`,
    '',
    '| guest memory | cold boot (+ proof), median (min–max) | restore, median (min–max) | speed-up | Bochs CPU time, boot | Bochs CPU time, restore | save | snapshot made (boot, proof, save) | 1-min load, median (min–max) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
