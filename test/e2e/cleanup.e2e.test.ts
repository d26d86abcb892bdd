// However a run ends, no QEMU process, socket or temp dir outlives it. Each case gives
// its guest a scratch directory of its own, then counts what is left in it and which
// processes still name it.
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { QemuGuest } from '../../harness/guest/qemu-guest.js';
import { GuestError } from '../../harness/util/errors.js';
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

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  test.serial(`${signal} to levelgate exec stops the guest and leaves nothing`, async (t) => {
    await withScratch(signal.toLowerCase(), async (dir) => {
      const child = execa('node', [CLI, 'exec', '--level', 'v2', '--', 'sleep', '600'], { env: { TMPDIR: dir }, reject: false, all: true });
      let output = '';
      child.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      for (let i = 0; i < 600 && !output.includes('guest ready'); i++) await sleep(100);
      t.regex(output, /levelgate: v2 guest ready/);
      t.is((await leftovers(dir)).processes.length, 1);
      child.kill(signal);
      const result = await child;
      t.is(result.exitCode, code);
      t.regex(output, new RegExp(`levelgate: ${signal}: stopping guests and cleaning up`));
      t.deepEqual(await leftovers(dir), { files: [], processes: [] });
    });
  });
}
