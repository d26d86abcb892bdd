// However a run ends, no QEMU process, socket or temp dir outlives it, for the default
// guest and for a distribution image's (--image). Each case gives
// its guest a scratch directory of its own, then counts what is left in it and which
// processes still name it.
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { QemuGuest } from '../../harness/guest/qemu-guest.js';
import { GuestError } from '../../harness/util/errors.js';
import { distributionMachine } from '../../harness/guest/distribution-machine.js';
import { ensureStandInImage } from '../../harness/image/cloud/build.js';
import { inspectImageFile } from '../../harness/image/cloud/inspect.js';
import { ensureCloudSupport } from '../../harness/image/cloud/support.js';
import type { BackendGuests } from '../../harness/run/session.js';
import { exactTarget } from '../../harness/levels/targets.js';
import { prepareRun } from '../../harness/run/prepare.js';
import { CATALOG } from '../../scenarios/index.js';
import { leftovers, testImage, withScratch } from './helpers.js';

const CLI = fileURLToPath(new URL('../../runners/cli.js', import.meta.url));

test.serial('normal end and command timeout: nothing left', async (t) => {
  await withScratch('timeout', async (dir) => {
    {
      await using guest = await QemuGuest.boot({ image: await testImage(), level: 'v1', accel: 'tcg', tmpDir: dir });
      t.is((await leftovers(dir)).processes.length, 1, 'QEMU runs while the guest lives');
      const r = await guest.exec(['sleep', '60'], { timeoutMs: 500 });
      t.true(r.timedOut);
    }
    t.deepEqual(await leftovers(dir), { files: [], processes: [] });
  });
});

test.serial('a guest that hangs at boot ends with an error and its console, nothing left', async (t) => {
  await withScratch('hang', async (dir) => {
    const error = await t.throwsAsync(
      // Init that never starts the agent: the guest boots and then says nothing.
      QemuGuest.boot({ image: await testImage(), level: 'v2', accel: 'tcg', tmpDir: dir, bootTimeoutMs: 8000, extraKernelArgs: ['rdinit=/bin/busybox', '--', 'sleep', '600'] }),
      { instanceOf: GuestError },
    );
    t.regex(error!.message, /^guest levelgate-v2-\w+ did not become ready within 8 s \(level v2, tcg\)$/);
    t.regex(error!.details ?? '', /console tail/);
    t.deepEqual(await leftovers(dir), { files: [], processes: [] });
  });
});

test.serial('QEMU killed mid-command: the command fails at once with the cause, nothing left', async (t) => {
  await withScratch('crash', async (dir) => {
    const guest = await QemuGuest.boot({ image: await testImage(), level: 'v2', accel: 'tcg', tmpDir: dir });
    const running = guest.exec(['sleep', '120']);
    await sleep(300);
    await execa('pkill', ['-KILL', '-f', guest.facts.id]);
    const started = performance.now();
    const error = await t.throwsAsync(running, { instanceOf: GuestError });
    t.true(performance.now() - started < 5000, 'no wait for a timeout');
    t.regex(error!.message, /^QEMU was killed by SIGKILL \(guest levelgate-v2-\w+, level v2, tcg\)$/);
    await guest.dispose();
    t.deepEqual(await leftovers(dir), { files: [], processes: [] });
  });
});

/** `levelgate exec --level v2 -- sleep 600` with its temp dirs in `dir`, once its guest is ready (or after a minute). */
async function execUntilReady(dir: string): Promise<{ child: ResultPromise<{ env: { TMPDIR: string }; reject: false; all: true }>; output: () => string }> {
  const child = execa('node', [CLI, 'exec', '--level', 'v2', '--', 'sleep', '600'], { env: { TMPDIR: dir }, reject: false, all: true });
  let output = '';
  child.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  for (let i = 0; i < 600 && !output.includes('guest ready'); i++) await sleep(100);
  return { child, output: () => output };
}

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test.serial(`${signal} to levelgate exec stops the guest and leaves nothing`, async (t) => {
    await withScratch(signal.toLowerCase(), async (dir) => {
      const { child, output } = await execUntilReady(dir);
      t.regex(output(), /levelgate: v2 guest ready/);
      t.is((await leftovers(dir)).processes.length, 1);
      child.kill(signal);
      const result = await child;
      t.is(result.exitCode, code);
      t.regex(output(), new RegExp(`levelgate: ${signal}: stopping guests and cleaning up`));
      t.deepEqual(await leftovers(dir), { files: [], processes: [] });
    });
  });
}

test.serial('SIGKILL to levelgate exec: the kernel stops QEMU at once, and the next run removes the temp dir it could not', async (t) => {
  await withScratch('sigkill', async (dir) => {
    const { child, output } = await execUntilReady(dir);
    t.regex(output(), /levelgate: v2 guest ready/);
    t.is((await leftovers(dir)).processes.length, 1);
    child.kill('SIGKILL');
    t.is((await child).signal, 'SIGKILL');
    let left = await leftovers(dir);
    for (let i = 0; i < 50 && left.processes.length > 0; i++) {
      await sleep(100);
      left = await leftovers(dir);
    }
    t.deepEqual(left.processes, [], 'QEMU died with the process that started it');
    t.is(left.files.length, 1, 'a killed process cannot remove its temp dir');
    const next = await execa('node', [CLI, 'exec', '--level', 'v2', '--', 'true'], { env: { TMPDIR: dir }, reject: false, all: true });
    t.is(next.exitCode, 0, next.all);
    t.deepEqual(await leftovers(dir), { files: [], processes: [] });
  });
});

// ---- distribution images (--image): the same guarantees -----------------------------

/** A disk whose boot sector loops forever: SeaBIOS boots it, and nothing ever answers. */
async function hangingImage(dir: string): Promise<string> {
  const disk = Buffer.alloc(2 << 20);
  disk.write('\xeb\xfe', 0, 'latin1');
  disk[446] = 0x80;
  disk[446 + 4] = 0x83;
  disk.writeUInt32LE(2048, 446 + 8);
  disk.writeUInt32LE(2048, 446 + 12);
  disk.writeUInt16LE(0xaa55, 510);
  const file = path.join(dir, 'hang.raw');
  await writeFile(file, disk);
  return file;
}

test.serial('an image guest: normal end, a command timeout, and QEMU killed mid-command leave nothing', async (t) => {
  t.timeout(20 * 60_000);
  const standIn = await ensureStandInImage('qga');
  const prepared = await prepareRun(CATALOG, 'tcg', { image: { request: { path: standIn.disk, name: 'stand-in' }, levels: ['v2'] } });
  const guests = prepared.guests as BackendGuests;
  const snapshot = (await guests.snapshot(exactTarget('v2'), 'tcg'))!;
  await withScratch('image-end', async (dir) => {
    const restore = async () => snapshot.restore({ image: prepared.artifacts, level: 'v2', dataDisks: prepared.dataDisks, tmpDir: dir });
    {
      await using guest = await restore();
      t.is((await leftovers(dir)).processes.length, 1, 'QEMU runs while the guest lives');
      const r = await guest.exec(['sleep', '60'], { timeoutMs: 500 });
      t.true(r.timedOut);
    }
    t.deepEqual(await leftovers(dir), { files: [], processes: [] });
    const guest = await restore();
    const running = guest.exec(['sleep', '120']);
    await sleep(300);
    await execa('pkill', ['-KILL', '-f', guest.facts.id]);
    const error = await t.throwsAsync(running, { instanceOf: GuestError });
    t.regex(error!.message, /^QEMU was killed by SIGKILL \(guest levelgate-v2-\w+: image stand-in, level v2, tcg\)$/);
    await guest.dispose();
    t.deepEqual(await leftovers(dir), { files: [], processes: [] });
  });
});

test.serial('an image that never answers ends with an error naming what was waited for, its console tail, nothing left; gate exits 3', async (t) => {
  await withScratch('image-hang', async (dir) => {
    const image = await inspectImageFile(await hangingImage(dir));
    const support = await ensureCloudSupport();
    await withScratch('image-hang-guest', async (guestDir) => {
      const error = await t.throwsAsync(QemuGuest.boot({ machine: distributionMachine(image, support), level: 'v2', accel: 'tcg', tmpDir: guestDir, bootTimeoutMs: 8000 }), { instanceOf: GuestError });
      t.is(error!.message, "image hang did not answer at v2: waited 8 s for the image's qemu-guest-agent (port org.qemu.guest_agent.0) or, without one, levelgate-agent (port levelgate.agent, started by cloud-init from levelgate's NoCloud seed)");
      t.regex(error!.details ?? '', /console tail/);
      t.regex(error!.hint ?? '', /levelgate doctor --image/);
      t.deepEqual(await leftovers(guestDir), { files: [], processes: [] });
    });
    const gate = await execa('node', [CLI, 'gate', '--image', path.join(dir, 'hang.raw'), '--level', 'v2', '--scenario', 'detection', '--json', path.join(dir, 'g.json'), '--evidence', path.join(dir, 'ev')], {
      reject: false,
      all: true,
      cwd: dir,
      env: { LEVELGATE_IMAGE_BOOT_TIMEOUT: '10', TMPDIR: dir },
    });
    t.is(gate.exitCode, 3, gate.all);
    t.regex(gate.stderr, /levelgate: error: image hang did not answer at v2: waited 10 s for the image's qemu-guest-agent/);
    t.regex(gate.stderr, /console tail/);
    t.deepEqual((await leftovers(dir)).processes, []);
  });
});

test.serial('SIGTERM to levelgate gate --image stops its guests and leaves nothing', async (t) => {
  t.timeout(20 * 60_000);
  const standIn = await ensureStandInImage('qga');
  // The snapshots exist (the test above made v2's; a gate makes the others once).
  await prepareRun(CATALOG, 'tcg', { image: { request: { path: standIn.disk, name: 'stand-in' }, levels: ['v2'] } });
  await withScratch('image-sigterm', async (dir) => {
    const child = execa('node', [CLI, 'gate', '--image', standIn.disk, '--level', 'v2', '--scenario', 'upgrade-new-variant', '--json', path.join(dir, 'g.json'), '--junit', path.join(dir, 'j.xml'), '--html', path.join(dir, 'r.html'), '--evidence', path.join(dir, 'ev')], { env: { TMPDIR: dir }, reject: false, all: true, cwd: dir });
    // The gate's own command line names the directory too: wait for a guest's QEMU.
    const guestRuns = async () => (await leftovers(dir)).processes.some((p) => p.includes('qemu-system'));
    for (let i = 0; i < 1200 && !(await guestRuns()); i++) await sleep(100);
    t.true(await guestRuns(), 'a guest ran');
    await sleep(1000);
    child.kill('SIGTERM');
    const result = await child;
    t.is(result.exitCode, 143, result.all);
    t.deepEqual((await leftovers(dir)).processes, []);
    t.deepEqual((await readdir(dir)).filter((f) => f.startsWith('levelgate-')), []);
  });
});
