// A build's tree is deleted without walking into what is mounted beneath it: a killed
// image build can leave /proc, /sys or a bind of the host's /dev inside its staging
// directory, and the next run's clean-up must unmount them, never delete through them.
// Stale staging directories of dead processes are swept under the lock.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { removeStaleStaging } from '../../harness/host/cache.js';
import { mountsBeneath, removeTree } from '../../harness/host/remove-tree.js';

const MOUNTINFO = [
  '22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '90 22 0:5 / /var/cache/x.staging-7/root/proc rw - proc proc rw',
  '91 22 0:6 / /var/cache/x.staging-7/root/dev rw - devtmpfs udev rw',
  '92 91 0:7 / /var/cache/x.staging-7/root/dev/pts rw - devpts devpts rw',
  '93 22 0:8 / /var/cache/x.staging-7/with\\040space rw - tmpfs none rw',
  '94 22 0:9 / /var/cache/x.staging-70/root/proc rw - proc proc rw',
  '',
].join('\n');

test('mountsBeneath names every mount point at or under the tree, deepest first, unescaped, and not a sibling sharing its prefix', (t) => {
  t.deepEqual(mountsBeneath(MOUNTINFO, '/var/cache/x.staging-7'), [
    '/var/cache/x.staging-7/root/dev/pts',
    '/var/cache/x.staging-7/root/proc',
    '/var/cache/x.staging-7/root/dev',
    '/var/cache/x.staging-7/with space',
  ]);
  t.deepEqual(mountsBeneath(MOUNTINFO, '/var/cache/y'), []);
});

const isRoot = process.getuid?.() === 0;

(isRoot ? test : test.skip)('removeTree unmounts a bind beneath the tree instead of deleting through it (root only)', async (t) => {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-test-remove-tree-'));
  try {
    const outside = path.join(scratch, 'host-dev');
    const tree = path.join(scratch, 'x.staging-1', 'root');
    await mkdir(outside);
    await writeFile(path.join(outside, 'precious'), 'not the build\'s');
    await mkdir(path.join(tree, 'dev'), { recursive: true });
    await execa('mount', ['--bind', outside, path.join(tree, 'dev')]);
    await removeTree(path.join(scratch, 'x.staging-1'));
    await t.throwsAsync(stat(path.join(scratch, 'x.staging-1')), { code: 'ENOENT' });
    t.is((await stat(path.join(outside, 'precious'))).isFile(), true, 'the file behind the bind mount is still there');
    t.deepEqual(mountsBeneath(await readFile('/proc/self/mountinfo', 'utf8'), scratch), []);
  } finally {
    for (const point of mountsBeneath(await readFile('/proc/self/mountinfo', 'utf8'), scratch)) {
      await execa('umount', ['-l', point], { reject: false });
    }
    await rm(scratch, { recursive: true, force: true });
  }
});

test("removeStaleStaging deletes the staging directories of processes that are gone (an entry's, or every entry's) and keeps a live one", async (t) => {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-test-stale-staging-'));
  try {
    const child = execa('true');
    const gone = child.pid!;
    await child;
    for (const name of [`abc123.staging-${gone}`, `abc123.staging-${process.pid}`, `other.staging-${gone}`, 'other', `x.staging-y`]) await mkdir(path.join(scratch, name));
    t.deepEqual(await removeStaleStaging(scratch, 'abc123'), [`abc123.staging-${gone}`]);
    t.deepEqual((await readdir(scratch)).sort(), [`abc123.staging-${process.pid}`, `other.staging-${gone}`, 'other', 'x.staging-y'].sort());
    // Without an entry: every entry's staging of a process that is gone (the snapshot store's folders).
    t.deepEqual(await removeStaleStaging(scratch), [`other.staging-${gone}`]);
    t.deepEqual((await readdir(scratch)).sort(), [`abc123.staging-${process.pid}`, 'other', 'x.staging-y'].sort());
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});
