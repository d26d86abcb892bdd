// The qemu-guest-agent channel against a fake agent: readiness through syncs sent before
// the guest opened its port, commands with their exit status and output, a missing
// program, a kill of the whole process group, a clock set despite hwclock, and an
// agent whose guest-exec is disabled.
import net from 'node:net';
import test from 'ava';
import { QgaClient, qgaExecArguments, QgaError } from '../../harness/guest/qga-client.js';
import { FakeQga, type FakeCommand } from '../fixtures/fake-qga.js';

const request = (argv: string[], extra: Partial<{ env: Record<string, string>; cwd: string; input: Buffer }> = {}) => ({ argv, timeoutMs: 0, env: {}, cwd: '', input: Buffer.alloc(0), ...extra });

async function connect(fake: FakeQga): Promise<QgaClient> {
  const socket = net.createConnection(fake.socketPath);
  await new Promise((r) => socket.once('connect', r));
  return new QgaClient(socket, { syncEveryMs: 20, pollMs: [2, 10] });
}

function script(argv: readonly string[]): FakeCommand {
  const command = argv.slice(1);
  if (command[0] === 'echo') return { out: `${command.slice(1).join(' ')}\n` };
  if (command[0] === 'fail') return { exitcode: 3, err: 'it failed\n' };
  if (command[0] === 'nope') return { exitcode: 127, err: 'setsid: failed to execute nope: No such file or directory\n' };
  if (command[0] === 'sleep') return { ms: 60_000 };
  return { exitcode: 0 };
}

test('ready once the guest opens its port: stale sync answers are drained, then commands run under setsid in order', async (t) => {
  const fake = await FakeQga.start(script);
  const client = await connect(fake);
  const ready = client.ready();
  await new Promise((r) => setTimeout(r, 100));
  t.is(client.banner, undefined, 'no answer while the port is closed');
  fake.openPort();
  t.is(await ready, 'qemu-guest-agent 9.9.9');
  const [a, b] = await Promise.all([client.exec(request(['echo', 'one'])), client.exec(request(['fail']))]);
  t.is(a.stdout.toString(), 'one\n');
  t.like(a.exit, { exitCode: 0, signal: 0, spawnFailed: false, killed: false });
  t.like(b.exit, { exitCode: 3 });
  t.is(b.stderr.toString(), 'it failed\n');
  const exec = fake.requests.find((r) => r.execute === 'guest-exec')!;
  t.like(exec.arguments, { path: 'setsid', arg: ['echo', 'one'], 'capture-output': true });
  t.true((exec.arguments!.env as string[]).includes('HOME=/root'));
  client.close();
  await fake.stop();
});

test('a program that cannot start is a spawn failure; a kill takes the process group and says killed', async (t) => {
  const fake = await FakeQga.start(script);
  fake.openPort();
  const client = await connect(fake);
  await client.ready();
  t.like((await client.exec(request(['nope']))).exit, { exitCode: 127, spawnFailed: true });
  const running = client.exec(request(['sleep', '600']));
  await new Promise((r) => setTimeout(r, 50));
  client.kill();
  t.like((await running).exit, { exitCode: null, signal: 9, killed: true });
  t.true(fake.requests.some((r) => r.execute === 'guest-exec' && ((r.arguments!.arg as string[])[1] ?? '').startsWith('kill -KILL -')));
  client.close();
  await fake.stop();
});

test('thaw sets the clock (an hwclock error after it does not count) and returns cpuinfo', async (t) => {
  const fake = await FakeQga.start((argv) => (argv[1] === 'cat' ? { out: 'flags\t\t: fpu sse2\n' } : {}));
  fake.openPort();
  const client = await connect(fake);
  t.is(await client.thaw(), 'flags\t\t: fpu sse2\n');
  const set = fake.requests.find((r) => r.execute === 'guest-set-time')!;
  t.true(Math.abs(Number(set.arguments!.time) / 1e6 - Date.now()) < 5000);
  client.close();
  await fake.stop();
});

test('an agent whose guest-exec is disabled is refused with the reason', async (t) => {
  const fake = await FakeQga.start(script, { disabled: ['guest-exec'] });
  fake.openPort();
  const client = await connect(fake);
  const error = await t.throwsAsync(client.ready(), { instanceOf: QgaError });
  t.regex(error!.message, /guest-exec is disabled in this image's qemu-guest-agent/);
  client.close();
  await fake.stop();
});

test('environment and working directory go through env(1); input as base64', (t) => {
  t.like(qgaExecArguments(request(['rpm', '-qa'], { env: { A: '1' }, cwd: '/tmp', input: Buffer.from('x') })), {
    path: 'setsid',
    arg: ['env', '-C', '/tmp', 'A=1', 'rpm', '-qa'],
    'input-data': 'eA==',
  });
});
