// One booted v2 guest serves the checks of the command channel, data disks and disks.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createOverlay, QemuGuest } from '../../harness/guest/qemu-guest.js';
import { removeScratch, scratchDir, testImage } from './helpers.js';

let guest: QemuGuest;
let scratch: string;

test.before(async () => {
  scratch = await scratchDir('guest');
  const repo = path.join(scratch, 'repo');
  await mkdir(repo);
  await writeFile(path.join(repo, 'hello.txt'), 'fixture data\n');
  guest = await QemuGuest.boot({ image: await testImage(), level: 'v2', accel: 'tcg', dataFolders: [{ name: 'repo', folder: repo }], consoleLog: path.join(scratch, 'console.log') });
});

test.after.always(async () => {
  await guest?.dispose();
  await removeScratch(scratch);
});

test.serial('a cold-booted kernel has its entropy from the host before the first command: getrandom() does not block', async (t) => {
  // Unseeded, a TCG guest's crng initialises only when a getrandom() caller blocks on it (1.3-1.6 s of jitter).
  const r = await guest.exec(['sh', '-c', 'dmesg | grep -c "crng init done"; cat /proc/sys/kernel/random/entropy_avail']);
  t.is(r.stdout.split('\n')[0], '1', r.stdout);
  t.is(r.stdout.split('\n')[1], '256', r.stdout);
});

test.serial('stdout, stderr and the exit status come back apart', async (t) => {
  const r = await guest.exec(['sh', '-c', 'echo out; echo err >&2; exit 7']);
  t.is(r.stdout, 'out\n');
  t.is(r.stderr, 'err\n');
  t.is(r.exitCode, 7);
  t.is(r.signal, null);
  t.false(r.timedOut);
  t.is(r.command, `sh -c 'echo out; echo err >&2; exit 7'`);
});

test.serial('arguments reach the program as given, with no shell in between', async (t) => {
  const r = await guest.exec(['printf', '[%s]', 'a b', '$HOME', "it's", '']);
  t.is(r.stdout, "[a b][$HOME][it's][]");
});

test.serial('stdin, environment and working directory', async (t) => {
  const r = await guest.exec(['sh', '-c', 'cat; echo "$LG_X"; pwd'], { input: 'from stdin\n', env: { LG_X: 'set' }, cwd: '/etc' });
  t.is(r.stdout, 'from stdin\nset\n/etc\n');
});

test.serial('a missing program is reported as not started', async (t) => {
  const r = await guest.exec(['/no/such/program']);
  t.true(r.spawnFailed);
  t.is(r.exitCode, 127);
  t.regex(r.stderr, /cannot run \/no\/such\/program: No such file or directory/);
});

test.serial('a command past its timeout is killed with its children; the guest goes on', async (t) => {
  const r = await guest.exec(['sh', '-c', 'sleep 100 & sleep 100'], { timeoutMs: 1000 });
  t.true(r.timedOut);
  t.is(r.signal, 'SIGKILL');
  t.true(r.durationMs < 10_000);
  const ps = await guest.exec(['ps', '-eo', 'comm=']);
  t.is(ps.exitCode, 0);
  t.true(ps.stdout.includes('agent'));
  t.false(ps.stdout.split('\n').includes('sleep'));
});

test.serial('host folders are attached read-only at /mnt/NAME', async (t) => {
  t.is((await guest.exec(['cat', '/mnt/repo/hello.txt'])).stdout, 'fixture data\n');
  const write = await guest.exec(['sh', '-c', 'echo x > /mnt/repo/new']);
  t.not(write.exitCode, 0);
  t.regex(write.stderr, /Read-only file system/);
});

test.serial('the serial console is captured to its log file', async (t) => {
  t.true((await stat(guest.console.path)).size > 0);
  t.is(guest.console.path, path.join(scratch, 'console.log'));
});

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

test.serial('state survives a power-off and a reboot of the same disk at another level; the base is never written', async (t) => {
  const image = await testImage();
  const before = await stat(image.rootDisk);
  const baseHash = await sha256(image.rootDisk);
  const disk = path.join(scratch, 'disk.qcow2');
  await createOverlay(image.rootDisk, disk);
  {
    await using first = await QemuGuest.boot({ image, level: 'v3', accel: 'tcg', disk });
    const w = await first.exec(['sh', '-c', 'echo kept > /root/state && rpm -q rpm >/dev/null 2>&1; echo done']);
    t.is(w.stdout, 'done\n');
    await first.powerOff();
  }
  {
    // The same disk on an older CPU: a VM migrated to a v2 host.
    await using second = await QemuGuest.boot({ image, level: 'v2', accel: 'tcg', disk });
    t.is(second.proof.proven, 'v2');
    t.is((await second.exec(['cat', '/root/state'])).stdout, 'kept\n');
  }
  const after = await stat(image.rootDisk);
  t.is(after.mtimeMs, before.mtimeMs);
  t.is(await sha256(image.rootDisk), baseHash);
});
