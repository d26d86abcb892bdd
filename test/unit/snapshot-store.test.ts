// The snapshot store with a fake save (no guest): published once, read-only, verified on
// every load; a damaged, incomplete or unchecked snapshot is rebuilt or never published.
import { appendFile, chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { discardSnapshot, ensureSnapshot, sha256, snapshotKeyOf, type SnapshotKind } from '../../harness/guest/snapshot-store.js';

async function withCache(run: (cacheDir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-store-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A kind whose save writes a state and a note, and counts its saves. */
function fakeKind(overrides: Partial<SnapshotKind<{ note: string }, { saves: number }>> = {}) {
  let saves = 0;
  const kind: SnapshotKind<{ note: string }, { saves: number }> = {
    folder: 'snapshots',
    inputs: { level: 'v2', layout: 1 },
    what: 'the fake snapshot',
    recorded: ['state', 'note'],
    hashed: (name) => name === 'state',
    save: async (staging) => {
      saves += 1;
      await writeFile(path.join(staging, 'state'), 'device state');
      await writeFile(path.join(staging, 'note'), 'a note');
      return { saves };
    },
    read: async (dir) => ({ note: await readFile(path.join(dir, 'note'), 'utf8') }),
    ...overrides,
  };
  return { kind, saves: () => saves };
}

test('a snapshot is saved once, published read-only with its manifest, and loaded after', async (t) => {
  await withCache(async (cacheDir) => {
    const { kind, saves } = fakeKind();
    const first = await ensureSnapshot(kind, { cacheDir });
    t.is(first.key, snapshotKeyOf(kind.inputs));
    t.is(first.dir, path.join(cacheDir, 'snapshots', first.key));
    t.is(first.note, 'a note');
    t.deepEqual(first.manifest.sizes, { state: 12, note: 6 });
    t.deepEqual(first.manifest.sha256, { state: sha256('device state') });
    t.is(first.manifest.saves, 1);
    for (const name of ['state', 'note']) t.is((await stat(path.join(first.dir, name))).mode & 0o777, 0o444, name);
    const second = await ensureSnapshot(kind, { cacheDir });
    t.is(saves(), 1, 'found, not saved again');
    t.is(second.manifest.createdAt, first.manifest.createdAt);
  });
});

test('a hashed file changed, a recorded file of another size, or a file the save did not leave: the snapshot is saved again', async (t) => {
  await withCache(async (cacheDir) => {
    const { kind, saves } = fakeKind();
    const first = await ensureSnapshot(kind, { cacheDir });
    const state = path.join(first.dir, 'state');
    await chmod(state, 0o644);
    await writeFile(state, 'DEVICE STATE');
    await ensureSnapshot(kind, { cacheDir });
    t.is(saves(), 2, 'same size, other content: rebuilt');
    const note = path.join(first.dir, 'note');
    await chmod(note, 0o644);
    await appendFile(note, '!');
    await ensureSnapshot(kind, { cacheDir });
    t.is(saves(), 3, 'unhashed file of another size: rebuilt');

    const all = fakeKind({ recorded: 'all', inputs: { all: true } });
    const saved = await ensureSnapshot(all.kind, { cacheDir });
    await writeFile(path.join(saved.dir, 'stray'), '');
    await ensureSnapshot(all.kind, { cacheDir });
    t.is(all.saves(), 2, 'a file no save left: rebuilt');
  });
});

test('a manifest of other inputs is not taken, and a discarded snapshot is made again', async (t) => {
  await withCache(async (cacheDir) => {
    const { kind, saves } = fakeKind();
    const first = await ensureSnapshot(kind, { cacheDir });
    const manifest = path.join(first.dir, 'manifest.json');
    await writeFile(manifest, JSON.stringify({ ...JSON.parse(await readFile(manifest, 'utf8')), key: 'another' }));
    await ensureSnapshot(kind, { cacheDir });
    t.is(saves(), 2);
    await discardSnapshot(first);
    t.deepEqual((await readdir(path.join(cacheDir, 'snapshots'))).filter((f) => !f.endsWith('.lock')), []);
    await ensureSnapshot(kind, { cacheDir });
    t.is(saves(), 3);
  });
});

test("a snapshot published before the store (the state's hash alone) still loads", async (t) => {
  await withCache(async (cacheDir) => {
    const { kind, saves } = fakeKind();
    const first = await ensureSnapshot(kind, { cacheDir });
    const manifest = path.join(first.dir, 'manifest.json');
    const { sha256: hashes, ...rest } = JSON.parse(await readFile(manifest, 'utf8')) as { sha256: { state: string } };
    await writeFile(manifest, JSON.stringify({ ...rest, stateSha256: hashes.state }));
    t.is((await ensureSnapshot(kind, { cacheDir })).note, 'a note');
    t.is(saves(), 1);
    await writeFile(manifest, JSON.stringify({ ...rest, stateSha256: sha256('other') }));
    await ensureSnapshot(kind, { cacheDir });
    t.is(saves(), 2, 'its hash is still checked');
  });
});

test("a saved disk that does not pass qemu-img check is never published; a failed save leaves nothing", async (t) => {
  await withCache(async (cacheDir) => {
    const disk = fakeKind({
      inputs: { disk: true },
      disk: 'disk.qcow2',
      recorded: ['disk.qcow2'],
      save: async (staging) => {
        await writeFile(path.join(staging, 'disk.qcow2'), 'QFI\xfb not a qcow2 image');
        return { saves: 1 };
      },
    });
    const error = await t.throwsAsync(ensureSnapshot(disk.kind, { cacheDir }));
    t.regex(error.message, /^the snapshot's disk does not check out/);
    const sound = fakeKind({
      inputs: { disk: 'sound' },
      disk: 'disk.qcow2',
      recorded: ['disk.qcow2'],
      save: async (staging) => {
        await execa('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(staging, 'disk.qcow2'), '1M']);
        return { saves: 1 };
      },
      read: async () => ({ note: 'no note' }),
    });
    t.truthy((await ensureSnapshot(sound.kind, { cacheDir })).manifest.sizes['disk.qcow2']);
    const failing = fakeKind({ inputs: { fails: true }, save: () => Promise.reject(new Error('the guest died')) });
    await t.throwsAsync(ensureSnapshot(failing.kind, { cacheDir }), { message: 'the guest died' });
    const left = (await readdir(path.join(cacheDir, 'snapshots'))).filter((f) => !f.endsWith('.lock'));
    t.deepEqual(left, [snapshotKeyOf({ disk: 'sound' })]);
  });
});

test("the store sweeps its folder of staging directories a dead process left, for any key, and keeps a live process's", async (t) => {
  await withCache(async (cacheDir) => {
    const child = execa('true');
    const gone = child.pid!;
    await child;
    const folder = path.join(cacheDir, 'snapshots');
    for (const name of [`otherkey.staging-${gone}`, `livekey.staging-${process.pid}`]) await mkdir(path.join(folder, name), { recursive: true });
    const { kind } = fakeKind();
    const snapshot = await ensureSnapshot(kind, { cacheDir });
    t.deepEqual((await readdir(folder)).filter((n) => !n.endsWith('.lock')).sort(), [snapshot.key, `livekey.staging-${process.pid}`].sort());
  });
});
