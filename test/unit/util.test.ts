import test from 'ava';
import { classifyConsoleLine } from '../../harness/guest/console.js';
import { quoteCommand, signalName } from '../../harness/guest/guest.js';
import { CleanupStack } from '../../harness/util/cleanup-stack.js';
import { resolveAccel, resolveDataDisk, resolveDriver, resolveFidelity, resolveLevel, resolveSeconds } from '../../runners/resolve.js';
import { validateConfig } from '../../harness/config/load.js';

test('the cleanup stack releases in reverse order, all of it, once', async (t) => {
  const order: string[] = [];
  const stack = new CleanupStack();
  stack.defer('temp dir', () => void order.push('temp dir'));
  stack.defer('qemu', () => {
    order.push('qemu');
    throw new Error('already dead');
  });
  stack.defer('socket', async () => void order.push('socket'));
  const errors = await stack.unwind();
  t.deepEqual(order, ['socket', 'qemu', 'temp dir']);
  t.deepEqual(errors.map((e) => e.message), ['cleanup "qemu" failed: already dead']);
  t.deepEqual(await stack.unwind(), []);
  t.throws(() => stack.defer('late', () => {}), { message: 'cleanup stack already unwound; cannot defer "late"' });
});

test('console lines that end a guest early are recognised', (t) => {
  t.is(classifyConsoleLine('[    2.5] traps: foo[119] trap invalid opcode ip:401c37 sp:7fff7a963800 error:0 in foo[1c37,401000+7a000]'), 'illegal-instruction');
  t.is(classifyConsoleLine('[    3.3] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100'), 'kernel-panic');
  t.is(classifyConsoleLine('Fatal glibc error: CPU does not support x86-64-v3'), 'cpu-level-fatal');
  t.is(classifyConsoleLine('levelgate: BOOT FAILED: mount /dev/vda'), 'boot-failed');
  t.is(classifyConsoleLine('[    1.7] virtio_blk virtio1: 1/0/0 default/read/poll queues'), undefined);
});

test('commands are quoted for messages, signals named', (t) => {
  t.is(quoteCommand(['sh', '-c', "rpm -q 'foo' | grep x"]), `sh -c 'rpm -q '\\''foo'\\'' | grep x'`);
  t.is(signalName(4), 'SIGILL');
  t.is(signalName(0), null);
});

test('bad flags are named in the error, with the known values', (t) => {
  t.throws(() => resolveLevel('v5'), { message: "--level: 'v5' is not a level; known: v1, v2, v3, v4" });
  t.throws(() => resolveLevel(undefined), { message: '--level is required; known levels: v1, v2, v3, v4' });
  t.throws(() => resolveAccel('hvf'), { message: "--accel: 'hvf' is not an accelerator; known: auto, kvm, tcg, bochs" });
  t.throws(() => resolveSeconds('-3', '--timeout'), { message: "--timeout: '-3' is not a positive number of seconds" });
  t.throws(() => resolveDataDisk('repo'), { message: "--data: 'repo' is not NAME=DIR" });
  t.throws(() => resolveDriver('yum'), { message: "--driver: 'yum' is not a driver; known: dnf5, zypper, rpm, apt, pacman" });
  t.is(resolveDriver('zypper'), 'zypper');
  t.deepEqual(resolveDataDisk('repo=/srv/r'), { name: 'repo', folder: '/srv/r' });
  t.is(resolveLevel('x86_64_v3'), 'v3');
  t.is(resolveSeconds('1.5', '--timeout'), 1500);
});

test('--require-fidelity and requireFidelity accept traps, and name anything else', (t) => {
  t.is(resolveFidelity('traps'), 'traps');
  t.throws(() => resolveFidelity('trap'), { message: "--require-fidelity: 'trap' is not a fidelity levelgate can require; known: traps" });
  t.deepEqual(validateConfig({ requireFidelity: 'traps' }, 'levelgate.config.ts'), []);
  t.deepEqual(validateConfig({ requireFidelity: 'masks-only' }, 'levelgate.config.ts'), ["levelgate.config.ts: requireFidelity: 'masks-only' is not a fidelity levelgate can require; known: traps"]);
});
