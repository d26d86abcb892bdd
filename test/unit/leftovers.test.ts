// What a killed run leaves and how the next run deals with it: emulators carry the
// kernel's parent-death signal (host/parent-death.ts), and temp dirs whose creating
// process is gone are swept (host/temp-sweep.ts). The e2e side (SIGKILL to a real
// levelgate exec) is in test/e2e/cleanup.e2e.test.ts.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import test from 'ava';
import { dir } from 'tmp-promise';
import { dyingWithParent } from '../../harness/host/parent-death.js';
import { sweepOrphanTempDirs, tempDirOwner } from '../../harness/host/temp-sweep.js';

test('tmp-promise names carry the creating pid where the sweep reads it', async (t) => {
  for (const prefix of ['levelgate-cell-', 'levelgate-v2-1a2b3c4d-', 'levelgate-inspect', 'levelgate-compose-v3']) {
    const made = await dir({ prefix });
    try {
      t.is(tempDirOwner(path.basename(made.path)), process.pid, prefix);
    } finally {
      await made.cleanup();
    }
  }
  t.is(tempDirOwner('levelgate-test-crash-Xy12Ab'), undefined, 'a mkdtemp name has no owner');
  t.is(tempDirOwner('other-cell--584-iuMweFkZbOOz'), undefined, 'not ours');
});

test('the sweep removes dirs of dead processes only, and nothing else', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'sweep-root-'));
  try {
    const dead = 'levelgate-cell--4000001-iuMweFkZbOOz';
    const live = 'levelgate-v2-1a2b3c4d--4000002-AbCdEfGhIjKl';
    const mine = `levelgate-cell--${process.pid}-AbCdEfGhIjKl`;
    for (const name of [dead, live, mine, 'levelgate-test-x-123456', 'unrelated-4000001-iuMweFkZbOOz']) await mkdir(path.join(root, name, 'sub'), { recursive: true });
    await writeFile(path.join(root, dead, 'sub', 'qmp.sock'), '');
    await writeFile(path.join(root, 'levelgate-file--4000001-iuMweFkZbOOz'), 'a file, not a dir');
    const removed = await sweepOrphanTempDirs([root, path.join(root, 'absent')], (pid) => pid === 4000002);
    t.deepEqual(removed, [path.join(root, dead)]);
    t.deepEqual((await readdir(root)).sort(), ['levelgate-file--4000001-iuMweFkZbOOz', live, mine, 'levelgate-test-x-123456', 'unrelated-4000001-iuMweFkZbOOz'].sort());
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an emulator started through setpriv is killed when its parent is killed', async (t) => {
  const wrapped = dyingWithParent('sleep', ['300']);
  t.deepEqual(wrapped.argv.slice(-3), ['--', 'sleep', '300']);
  t.deepEqual(dyingWithParent('qemu', ['-m', '1'], null), { command: 'qemu', argv: ['-m', '1'] }, 'no setpriv: started as it is');
  // A shell stands in for the harness: it starts the wrapped sleep, prints its pid, and is killed with SIGKILL.
  const parent = execa('sh', ['-c', `"$@" & echo $!; wait`, 'sh', wrapped.command, ...wrapped.argv], { reject: false, buffer: false });
  const pid = await new Promise<number>((resolve) => parent.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
  t.notThrows(() => process.kill(pid, 0), 'the child runs');
  parent.kill('SIGKILL');
  await parent;
  let gone = false;
  for (let i = 0; i < 50 && !gone; i++) {
    try {
      process.kill(pid, 0);
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      gone = true;
    }
  }
  t.true(gone, 'the kernel killed the child with its parent');
});
