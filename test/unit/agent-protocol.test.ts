import { PassThrough } from 'node:stream';
import test from 'ava';
import { AgentClient } from '../../harness/guest/agent-client.js';
import { encodeExec, encodeKill, FrameDecoder } from '../../harness/guest/agent-protocol.js';

function reply(type: string, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.write(`LGA${type}`, 0, 'latin1');
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

function done(code: number, signal: number, flags: number): Buffer {
  const p = Buffer.alloc(20);
  p.writeInt32LE(code, 0);
  p.writeInt32LE(signal, 4);
  p.writeUInt32LE(flags, 8);
  p.writeBigUInt64LE(1_500_000n, 12);
  return reply('D', p);
}

test('encodeExec lays out the request as agent.c reads it', (t) => {
  const frame = encodeExec({ argv: ['sh', '-c', 'echo hi'], timeoutMs: 5000, env: { A: 'b' }, cwd: '/tmp', input: Buffer.from('in') });
  t.is(frame.toString('latin1', 0, 4), 'LGQX');
  t.is(frame.readUInt32LE(4), frame.length - 8);
  const p = frame.subarray(8);
  t.is(p.readUInt32LE(0), 5000);
  t.is(p.readUInt32LE(4), 3);
  t.is(p.readUInt32LE(8), 2);
  t.is(p.toString('utf8', 12, 14), 'sh');
  t.true(p.includes(Buffer.from('A=b')));
  t.true(p.subarray(-6).equals(Buffer.from([2, 0, 0, 0, 0x69, 0x6e])));
});

test('encodeExec refuses an empty argv and NUL bytes', (t) => {
  t.throws(() => encodeExec({ argv: [], timeoutMs: 0, env: {}, cwd: '', input: Buffer.alloc(0) }), { message: 'encodeExec: argv is empty' });
  t.throws(() => encodeExec({ argv: ['a\0b'], timeoutMs: 0, env: {}, cwd: '', input: Buffer.alloc(0) }), { message: /NUL byte/ });
  t.is(encodeKill().toString('latin1'), 'LGQK\0\0\0\0');
});

test('the decoder skips noise and reassembles frames split across chunks', (t) => {
  const stream = Buffer.concat([
    Buffer.from('garbage from a serial line LG'),
    reply('R', Buffer.from('levelgate-agent 1 7.2.13')),
    reply('O', Buffer.from('out')),
    reply('E', Buffer.from('err')),
    done(-1, 4, 0),
  ]);
  const decoder = new FrameDecoder();
  const frames = [];
  for (let i = 0; i < stream.length; i += 7) frames.push(...decoder.push(stream.subarray(i, i + 7)));
  t.deepEqual(frames.map((f) => f.type), ['ready', 'stdout', 'stderr', 'done']);
  t.deepEqual(frames[0], { type: 'ready', banner: 'levelgate-agent 1 7.2.13' });
  t.deepEqual(frames[3], { type: 'done', exit: { exitCode: null, signal: 4, timedOut: false, killed: false, spawnFailed: false, durationNs: 1_500_000n } });
  t.is(decoder.skipped, 'garbage from a serial line LG'.length);
});

test('done flags: timed out, killed, could not start', (t) => {
  const [frame] = new FrameDecoder().push(done(127, 0, 1 | 2 | 4));
  t.deepEqual(frame, { type: 'done', exit: { exitCode: 127, signal: 0, timedOut: true, killed: true, spawnFailed: true, durationNs: 1_500_000n } });
});

test("the agent client is busy from a command's request to its done frame (a guest is saved only when idle)", async (t) => {
  const stream = new PassThrough();
  const client = new AgentClient(stream);
  t.false(client.busy);
  const running = client.exec({ argv: ['true'], timeoutMs: 0, env: {}, cwd: '', input: Buffer.alloc(0) });
  t.true(client.busy, 'queued');
  await new Promise((resolve) => setImmediate(resolve));
  t.true(client.busy, 'sent, not answered');
  stream.emit('data', done(0, 0, 0));
  t.is((await running).exit.exitCode, 0);
  t.false(client.busy, 'idle once answered');
  client.close();
});
