// Bochs snapshots end to end: a v4 guest is booted, proven and saved; two cells restore
// it at once, each on a root journal of its own, prove v4 and run commands; a restored
// cell's disk boots cold on another CPU (a move to v3); restores never write the
// snapshot; a damaged snapshot is rebuilt; nothing is left behind.
import { appendFile, chmod, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { BochsGuest } from '../../harness/guest/bochs-guest.js';
import { copySavedRootJournal } from '../../harness/guest/bochs-restore.js';
import { ensureBochsSnapshot, type BochsSnapshot } from '../../harness/guest/bochs-snapshot.js';
import { ensureFixtures } from '../../harness/fixtures/build.js';
import { CATALOG } from '../../scenarios/index.js';
import { leftovers, testImage, withScratch } from './helpers.js';

/** Every file of a snapshot with its size and mtime, to show restores leave it as it was. */
async function fingerprint(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(
    entries
      .filter((e) => e.isFile())
      .map(async (e) => {
        const file = path.join(e.parentPath, e.name);
        const s = await stat(file);
        return `${path.relative(dir, file)} ${s.size} ${s.mtimeMs} ${(s.mode & 0o777).toString(8)}`;
      }),
  ).then((lines) => lines.sort());
}

async function bochsListeners(): Promise<string[]> {
  const ss = await execa('ss', ['-ltnpH'], { reject: false });
  return ss.stdout.split('\n').filter((l) => /bochs/.test(l));
}

test.serial('a v4 Bochs snapshot restores two cells at once, each proves v4 and runs commands, a restored disk boots cold at v3, the snapshot is never written', async (t) => {
  const image = await testImage();
  const fixtures = await ensureFixtures(CATALOG, image);
  const dataDisks = [{ name: 'fixtures', path: fixtures.disk }];
  await withScratch('bochs-snapshots', async (dir) => {
    const cacheDir = path.join(dir, 'cache');
    const logs: string[] = [];
    const snapshot = await ensureBochsSnapshot({ image, level: 'v4', dataDisks }, { cacheDir, log: (l) => logs.push(l) });
    t.regex(logs.join('\n'), /^snapshot \w{16}: v4 Bochs guest booted, proven and saved in [\d.]+ s \(save \d+ ms\)$/m);
    t.is(snapshot.proof.proven, 'v4');
    t.is(snapshot.cpuModel, 'corei7_skylake_x');
    t.is(snapshot.manifest.saveMs < 10_000, true, `save took ${snapshot.manifest.saveMs} ms`);
    for (const file of await readdir(snapshot.state)) t.is((await stat(path.join(snapshot.state, file))).mode & 0o222, 0, `${file} is read-only`);
    const before = await fingerprint(snapshot.dir);

    const restore = async (n: number) => {
      const disk = path.join(dir, `cell-${n}.redolog`);
      await copySavedRootJournal(snapshot, disk);
      const started = performance.now();
      const guest = await BochsGuest.restore({ image, level: 'v4', disk, dataDisks, tmpDir: dir }, snapshot);
      try {
        const first = await guest.exec(['sh', '-c', `echo ${n} > /root/mark && cat /root/mark`]);
        const firstMs = Math.round(performance.now() - started);
        t.is(first.stdout, `${n}\n`);
        // The proof is the snapshot's, and the restored CPU is the one it was made on (becomeRestored compares cpuinfo).
        t.is(guest.proof.proven, 'v4');
        t.is(guest.facts.cpu, 'corei7_skylake_x');
        t.regex((await guest.exec(['grep', '-m1', '^flags', '/proc/cpuinfo'])).stdout, /\bavx512f\b.*\bavx512vl\b/);
        t.regex((await guest.exec(['/usr/lib/levelgate/canary', 'avx512f-vpaddd'])).stdout, /^canary avx512f-vpaddd v4 ok /);
        t.regex((await guest.exec(['ls', '/mnt/fixtures'])).stdout, /\S/, 'the data disk is attached');
        const seconds = Number((await guest.exec(['date', '+%s'])).stdout.trim());
        t.true(Math.abs(seconds - Date.now() / 1000) < 60, `the clock was set on restore (guest ${seconds})`);
        t.deepEqual(await bochsListeners(), [], 'no Bochs socket listens on the host');
        await guest.exec(['sync']);
        await guest.powerOff();
        return { disk, firstMs };
      } finally {
        await guest.dispose();
      }
    };
    const [a, b] = await Promise.all([restore(1), restore(2)]);
    t.log(`two concurrent restores to their first command: ${a.firstMs} ms and ${b.firstMs} ms`);
    t.deepEqual(await fingerprint(snapshot.dir), before, 'restores leave the snapshot as it was');

    // A later boot of a restored cell's disk: cold, on an older CPU, with the cell's writes.
    {
      await using moved = await BochsGuest.boot({ image, level: 'v3', disk: a.disk, dataDisks, tmpDir: dir });
      t.is(moved.proof.proven, 'v3');
      t.is(moved.facts.cpu, 'corei7_haswell_4770');
      t.is((await moved.exec(['cat', '/root/mark'])).stdout, '1\n');
      await moved.powerOff();
    }
    t.deepEqual(await fingerprint(snapshot.dir), before);
    const left = await leftovers(dir);
    t.deepEqual(left.processes, []);
    t.deepEqual(left.files.filter((f) => !['cache', 'cell-1.redolog', 'cell-2.redolog'].includes(f)), [], 'no guest temp dir, socket or lock is left');
  });
});

test.serial('a damaged Bochs snapshot is rebuilt, never restored', async (t) => {
  const image = await testImage();
  await withScratch('bochs-snapshot-damaged', async (dir) => {
    const cacheDir = path.join(dir, 'cache');
    const first: BochsSnapshot = await ensureBochsSnapshot({ image, level: 'v4', dataDisks: [] }, { cacheDir });
    t.is((await ensureBochsSnapshot({ image, level: 'v4', dataDisks: [] }, { cacheDir })).manifest.createdAt, first.manifest.createdAt, 'a sound snapshot is found, not rebuilt');
    const cpu = path.join(first.state, 'cpu0');
    await chmod(cpu, 0o644);
    await appendFile(cpu, 'x');
    const rebuilt = await ensureBochsSnapshot({ image, level: 'v4', dataDisks: [] }, { cacheDir });
    t.not(rebuilt.manifest.createdAt, first.manifest.createdAt);
    t.is(rebuilt.key, first.key);
    const disk = path.join(dir, 'cell.redolog');
    await copySavedRootJournal(rebuilt, disk);
    await using guest = await BochsGuest.restore({ image, level: 'v4', disk, tmpDir: dir }, rebuilt);
    t.is((await guest.exec(['true'])).exitCode, 0);
    await guest.dispose();
    t.deepEqual((await leftovers(dir)).processes, []);
  });
});
