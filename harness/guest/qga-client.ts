// The command channel of an image's own qemu-guest-agent (QGA), on its virtio-serial
// port: the same interface as levelgate's agent (agent-channel.ts), over QGA's JSON
// protocol. Readiness: guest-sync-delimited (a leading 0xFF resets the agent's parser;
// stale answers to syncs sent while the guest had not yet opened its port are drained).
// Commands: guest-exec under `setsid` (so the command leads a process group that a kill
// takes whole) with the default guest's environment, then guest-exec-status polled until
// it has exited; QGA returns the output at the end, not as it comes. QGA cannot time a
// command: the host times it and kills the group over the channel.
import { randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import PQueue from 'p-queue';
import type { AgentExecHooks, AgentExecReply } from './agent-client.js';
import type { AgentChannel } from './agent-channel.js';
import type { ExecRequest, ExitFrame } from './agent-protocol.js';

/** The port name QGA opens (its udev rule or systemd unit starts it when the port appears). */
export const QGA_PORT_NAME = 'org.qemu.guest_agent.0';

/** The environment commands get: the default guest's (its init exports these). */
export const QGA_BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C.UTF-8',
  TERM: 'dumb',
};

interface QgaReply {
  readonly return?: unknown;
  readonly error?: { readonly class: string; readonly desc: string };
}

export interface QgaExecStatus {
  readonly exited: boolean;
  readonly exitcode?: number;
  readonly signal?: number;
  readonly 'out-data'?: string;
  readonly 'err-data'?: string;
  readonly 'out-truncated'?: boolean;
  readonly 'err-truncated'?: boolean;
}

/** The guest-exec arguments for a request: setsid (a process group of its own), env and cwd through env(1) when asked. */
export function qgaExecArguments(request: ExecRequest): Record<string, unknown> {
  const env = Object.entries(request.env).map(([k, v]) => `${k}=${v}`);
  const through = env.length > 0 || request.cwd ? ['env', ...(request.cwd ? ['-C', request.cwd] : []), ...env] : [];
  return {
    path: 'setsid',
    arg: [...through, ...request.argv],
    env: Object.entries(QGA_BASE_ENV).map(([k, v]) => `${k}=${v}`),
    ...(request.input.length > 0 ? { 'input-data': request.input.toString('base64') } : {}),
    'capture-output': true,
  };
}

/** The command could not start: setsid(1) or env(1) says so and exits 126 or 127. */
const SPAWN_FAILED = /^(?:setsid: failed to execute |env: ['‘]).*(?:No such file or directory|Permission denied)/m;

/** Turns guest-exec-status of an exited command into the agent's exit frame. */
export function qgaExitFrame(status: QgaExecStatus, stderr: string, killed: boolean, durationNs: bigint): ExitFrame {
  const signalled = status.signal !== undefined;
  const exitCode = signalled ? null : (status.exitcode ?? null);
  return {
    exitCode,
    signal: status.signal ?? 0,
    timedOut: false,
    killed: killed && (signalled || exitCode === 137),
    spawnFailed: (exitCode === 126 || exitCode === 127) && SPAWN_FAILED.test(stderr),
    durationNs,
  };
}

export class QgaError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    desc: string,
  ) {
    super(`qemu-guest-agent refused ${command}: ${errorClass}: ${desc}`);
    this.name = 'QgaError';
  }
}

export interface QgaClientOptions {
  /** How often a sync is sent while the agent has not answered. */
  readonly syncEveryMs?: number;
  /** The first and the longest pause between guest-exec-status polls. */
  readonly pollMs?: readonly [number, number];
}

export class QgaClient implements AgentChannel {
  readonly #stream: Duplex;
  readonly #queue = new PQueue({ concurrency: 1 });
  readonly #options: Required<QgaClientOptions>;
  #buffer = Buffer.alloc(0);
  /** Replies come in the order of the requests: one waiter per request sent, first in first out. */
  readonly #waiters: { resolve: (reply: QgaReply) => void; reject: (error: Error) => void }[] = [];
  #banner: string | undefined;
  #readying: Promise<string> | undefined;
  #failure: Error | undefined;
  #running: { pid: number; killed: boolean } | undefined;
  /** Answers to syncs of the waiting phase (id → seen). */
  readonly #syncs = new Set<number>();
  #syncSeen: (() => void) | undefined;
  /** Draining stale sync answers: every reply is dropped until the one to this id. */
  #draining: { id: number; done: () => void } | undefined;

  constructor(stream: Duplex, options: QgaClientOptions = {}) {
    this.#stream = stream;
    this.#options = { syncEveryMs: options.syncEveryMs ?? 500, pollMs: options.pollMs ?? [4, 100] };
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('error', (error) => this.fail(new Error(`qemu-guest-agent channel error: ${error.message}`, { cause: error })));
    stream.on('close', () => this.fail(new Error('qemu-guest-agent channel closed')));
  }

  get banner(): string | undefined {
    return this.#banner;
  }

  /**
   * Resolves once the agent answers a sync, its stale answers are drained, and it has
   * guest-exec enabled; the banner names its version.
   */
  ready(): Promise<string> {
    this.#readying ??= this.#ready(true);
    return this.#readying;
  }

  /** `check`: ask the agent which commands it has (a restored guest's agent was checked when its snapshot was made). */
  async #ready(check: boolean): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#syncSeen = resolve;
      const tick = () => {
        if (this.#failure) return reject(this.#failure);
        if (!this.#syncSeen) return;
        // Until the guest opens its port QEMU reads nothing from the socket: send only when the last sync has left.
        if (this.#stream.writableLength === 0) {
          const id = randomInt(1, 2 ** 31);
          this.#syncs.add(id);
          this.#stream.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } })}\n`)]));
        }
        setTimeout(tick, this.#options.syncEveryMs).unref();
      };
      tick();
    });
    // The agent is up. One more sync, answered after every stale one: then replies are in step.
    const id = randomInt(1, 2 ** 31);
    await new Promise<void>((resolve, reject) => {
      if (this.#failure) return reject(this.#failure);
      this.#draining = { id, done: resolve };
      this.#waiters.push({ resolve: () => {}, reject });
      this.#stream.write(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } })}\n`)]));
    });
    if (!check) return (this.#banner = 'qemu-guest-agent (restored)');
    const info = (await this.#command('guest-info')) as { version?: string; supported_commands?: { name: string; enabled: boolean }[] };
    for (const name of ['guest-exec', 'guest-exec-status']) {
      const command = info.supported_commands?.find((c) => c.name === name);
      if (command && !command.enabled) throw new QgaError('guest-info', 'CommandDisabled', `${name} is disabled in this image's qemu-guest-agent (its --block-rpcs or configuration)`);
    }
    this.#banner = `qemu-guest-agent ${info.version ?? '(version unknown)'}`;
    return this.#banner;
  }

  exec(request: ExecRequest, hooks: AgentExecHooks = {}): Promise<AgentExecReply> {
    return this.#queue.add(async () => {
      const started = process.hrtime.bigint();
      const { pid } = (await this.#roundTripOk('guest-exec', qgaExecArguments(request))) as { pid: number };
      const running = { pid, killed: false };
      this.#running = running;
      try {
        let pause = this.#options.pollMs[0];
        for (;;) {
          const status = (await this.#roundTripOk('guest-exec-status', { pid })) as QgaExecStatus;
          if (status.exited) {
            const stdout = Buffer.from(status['out-data'] ?? '', 'base64');
            const stderr = Buffer.from(status['err-data'] ?? '', 'base64');
            if (stdout.length) hooks.onStdout?.(stdout);
            if (stderr.length) hooks.onStderr?.(stderr);
            return { exit: qgaExitFrame(status, stderr.toString('utf8'), running.killed, process.hrtime.bigint() - started), stdout, stderr };
          }
          await new Promise((r) => setTimeout(r, pause));
          pause = Math.min(this.#options.pollMs[1], Math.round(pause * 1.5));
        }
      } finally {
        this.#running = undefined;
      }
    }) as Promise<AgentExecReply>;
  }

  /** Kills the running command's process group (it leads one: setsid). */
  kill(): void {
    const running = this.#running;
    if (!running || this.#failure) return;
    running.killed = true;
    // Out of turn: the queue is busy polling the command being killed. (dash's kill takes no `--`.)
    void this.#roundTripOk('guest-exec', { path: 'sh', arg: ['-c', `kill -KILL -${running.pid} 2>/dev/null || kill -KILL ${running.pid}`], env: Object.entries(QGA_BASE_ENV).map(([k, v]) => `${k}=${v}`) }).catch(() => {});
  }

  /** Syncs the guest's disks and powers it off at once (no service shutdown: the disk is scratch); acknowledged when QGA has started it. */
  powerOff(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return this.#queue.add(async () => {
      await this.#roundTripOk('guest-exec', { path: 'sh', arg: ['-c', 'sync; systemctl poweroff --force --force || poweroff -f'], env: Object.entries(QGA_BASE_ENV).map(([k, v]) => `${k}=${v}`) });
    }) as Promise<void>;
  }

  /**
   * Wakes a guest restored from a snapshot: its clock is set (guest-set-time; an error
   * from hwclock afterwards does not undo it). Its entropy is reseeded by the kernel
   * itself on the VM generation ID change (QEMU's vmgenid device). Resolves with its cpuinfo.
   */
  async thaw(): Promise<string> {
    this.#readying ??= this.#ready(false);
    await this.#readying;
    await this.#queue.add(async () => {
      const reply = await this.#roundTrip({ execute: 'guest-set-time', arguments: { time: Number(BigInt(Date.now()) * 1_000_000n) } });
      if (reply.error && !/hwclock/i.test(reply.error.desc)) throw new QgaError('guest-set-time', reply.error.class, reply.error.desc);
    });
    // Read through QGA's file calls: no process to start in the guest.
    return this.#queue.add(async () => {
      const handle = (await this.#roundTripOk('guest-file-open', { path: '/proc/cpuinfo', mode: 'r' })) as number;
      try {
        const chunks: Buffer[] = [];
        for (;;) {
          const read = (await this.#roundTripOk('guest-file-read', { handle, count: 65536 })) as { 'buf-b64': string; count: number; eof: boolean };
          chunks.push(Buffer.from(read['buf-b64'], 'base64'));
          if (read.eof || read.count === 0) break;
        }
        return Buffer.concat(chunks).toString('utf8');
      } finally {
        await this.#roundTripOk('guest-file-close', { handle }).catch(() => {});
      }
    }) as Promise<string>;
  }

  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    this.#queue.clear();
  }

  close(): void {
    this.fail(new Error('qemu-guest-agent channel closed by the host'));
    this.#stream.destroy();
  }

  async #command(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    return this.#queue.add(() => this.#roundTripOk(execute, args));
  }

  async #roundTripOk(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = await this.#roundTrip({ execute, ...(args ? { arguments: args } : {}) });
    if (reply.error) throw new QgaError(execute, reply.error.class, reply.error.desc);
    return reply.return;
  }

  /** Sends one request and resolves with the next reply (the protocol answers in order). */
  #roundTrip(request: Record<string, unknown>): Promise<QgaReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#stream.write(`${JSON.stringify(request)}\n`);
    });
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    let newline: number;
    while ((newline = this.#buffer.indexOf(0x0a)) >= 0) {
      let line = this.#buffer.subarray(0, newline);
      this.#buffer = this.#buffer.subarray(newline + 1);
      // guest-sync-delimited answers start with 0xFF; so may noise after a parser reset.
      while (line.length && line[0] === 0xff) line = line.subarray(1);
      const text = line.toString('utf8').trim();
      if (!text) continue;
      let reply: QgaReply;
      try {
        reply = JSON.parse(text) as QgaReply;
      } catch {
        continue;
      }
      if (this.#syncSeen) {
        // Waiting for the agent: any answer to one of our syncs says it is up.
        if (typeof reply.return === 'number' && this.#syncs.has(reply.return)) {
          const seen = this.#syncSeen;
          this.#syncSeen = undefined;
          seen();
        }
        continue;
      }
      if (this.#draining) {
        if (reply.return !== this.#draining.id) continue;
        const { done } = this.#draining;
        this.#draining = undefined;
        this.#waiters.shift();
        done();
        continue;
      }
      this.#waiters.shift()?.resolve(reply);
    }
  }
}
