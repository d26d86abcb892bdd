// guestDeath: an emulator's exit is a death unless the host said it is tearing the guest down.
import test from 'ava';
import path from 'node:path';
import { withDir } from 'tmp-promise';
import { guestDeath, type EmulatorExit } from '../../harness/guest/agent-guest.js';
import { GuestConsole } from '../../harness/guest/console.js';

function watch(dir: string) {
  let exit!: (info: EmulatorExit) => void;
  const exited = new Promise<EmulatorExit>((resolve) => (exit = resolve));
  const console = new GuestConsole(path.join(dir, 'console.log'));
  const watched = guestDeath({ id: 'g1', exited, console, evidence: () => 'evidence', describeExit: (how) => `QEMU ${how} (guest g1)`, hint: () => undefined });
  return { ...watched, exit, console };
}

const settled = (p: Promise<unknown>) => Promise.race([p.then(() => 'resolved', (e: unknown) => e), new Promise((r) => setTimeout(() => r('pending'), 50))]);

test('an exit the host did not ask for is the guest\'s death, named with its status', async (t) => {
  await withDir(async ({ path: dir }) => {
    const { death, exit, console } = watch(dir);
    exit({ exitCode: 1, signal: undefined });
    const error = await settled(death);
    t.true(error instanceof Error);
    t.is((error as Error).message, 'QEMU exited with status 1 (guest g1)');
    await console.close();
  }, { unsafeCleanup: true });
});

test('after tearDown the emulator\'s exit is no death', async (t) => {
  await withDir(async ({ path: dir }) => {
    const { death, tearDown, exit, console } = watch(dir);
    tearDown();
    exit({ exitCode: undefined, signal: 'SIGTERM' });
    t.is(await settled(death), 'pending');
    await console.close();
  }, { unsafeCleanup: true });
});

test('a kernel panic on the console is a death even while the emulator runs', async (t) => {
  await withDir(async ({ path: dir }) => {
    const { death, console } = watch(dir);
    console.push(Buffer.from('Kernel panic - not syncing: VFS: Unable to mount root fs\n'));
    const error = await settled(death);
    t.true(error instanceof Error);
    t.regex((error as Error).message, /guest g1 panicked/);
    await console.close();
  }, { unsafeCleanup: true });
});
