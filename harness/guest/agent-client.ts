// Host side of the command channel: sends requests to levelgate-agent over a byte
// stream (a unix socket QEMU connects to the guest's virtio-serial port) and gathers
// the replies. One command at a time; a queue keeps callers in order.
import type { Duplex } from 'node:stream';
import PQueue from 'p-queue';
import { randomBytes } from 'node:crypto';
import { encodeExec, encodeKill, encodePowerOff, encodeThaw, FrameDecoder, type ExecRequest, type ExitFrame } from './agent-protocol.js';

export interface AgentExecHooks {
  readonly onStdout?: (chunk: Buffer) => void;
  readonly onStderr?: (chunk: Buffer) => void;
}

export interface AgentExecReply {
  readonly exit: ExitFrame;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

interface Pending {
  readonly stdout: Buffer[];
  readonly stderr: Buffer[];
  readonly hooks: AgentExecHooks;
  readonly resolve: (reply: AgentExecReply) => void;
  readonly reject: (error: Error) => void;
}

export class AgentClient {
  readonly #stream: Duplex;
  readonly #decoder = new FrameDecoder();
  readonly #queue = new PQueue({ concurrency: 1 });
  #pending: Pending | undefined;
  #banner: string | undefined;
  #readyWaiters: { resolve: (banner: string) => void; reject: (e: Error) => void }[] = [];
  #powerOffWaiter: (() => void) | undefined;
  #thawWaiter: ((cpuinfo: string) => void) | undefined;
  #failure: Error | undefined;

  constructor(stream: Duplex) {
    this.#stream = stream;
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    stream.on('error', (error) => this.fail(new Error(`agent channel error: ${error.message}`, { cause: error })));
    stream.on('close', () => this.fail(new Error('agent channel closed')));
  }

  /** A command (or a thaw) is running or waiting. */
  get busy(): boolean {
    return this.#pending !== undefined || this.#queue.size > 0 || this.#queue.pending > 0;
  }

  get banner(): string | undefined {
    return this.#banner;
  }

  /** Resolves with the agent's banner once it has said it takes commands. */
  ready(): Promise<string> {
    if (this.#banner !== undefined) return Promise.resolve(this.#banner);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  exec(request: ExecRequest, hooks: AgentExecHooks = {}): Promise<AgentExecReply> {
    return this.#queue.add(
      () =>
        new Promise<AgentExecReply>((resolve, reject) => {
          if (this.#failure) return reject(this.#failure);
          this.#pending = { stdout: [], stderr: [], hooks, resolve, reject };
          this.#stream.write(encodeExec(request));
        }),
    ) as Promise<AgentExecReply>;
  }

  /** Asks the agent to kill the running command's process group. */
  kill(): void {
    if (this.#pending && !this.#failure) this.#stream.write(encodeKill());
  }

  /** Asks the guest to sync its disks and power off; resolves when the agent acknowledges. */
  powerOff(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve) => {
      this.#powerOffWaiter = resolve;
      this.#stream.write(encodePowerOff());
    });
  }

  /**
   * Wakes an agent restored from a snapshot: sets its clock, gives it fresh entropy and
   * resolves with its /proc/cpuinfo. A restored agent says no banner: this is its first word.
   */
  thaw(): Promise<string> {
    return this.#queue.add(
      () =>
        new Promise<string>((resolve, reject) => {
          if (this.#failure) return reject(this.#failure);
          this.#thawWaiter = (cpuinfo) => {
            this.#banner ??= 'levelgate-agent (restored)';
            resolve(cpuinfo);
          };
          this.#pending = { stdout: [], stderr: [], hooks: {}, resolve: () => {}, reject };
          this.#stream.write(encodeThaw(BigInt(Date.now()) * 1_000_000n, randomBytes(64)));
        }),
    ) as Promise<string>;
  }

  /**
   * Seeds a cold-booted agent's kernel with host entropy (and sets its clock): the thaw
   * exchange, its cpuinfo answer unused. Without it the first getrandom() in the guest
   * (rpm's, at the first installed-set read) blocks while the kernel gathers jitter
   * entropy: 1.3-1.6 s under TCG (the qemu64 models have no RDRAND to trust).
   */
  async seed(): Promise<void> {
    await this.thaw();
  }

  /** Ends every wait with this error (the guest died, or teardown began). */
  fail(error: Error): void {
    if (this.#failure) return;
    this.#failure = error;
    for (const w of this.#readyWaiters) w.reject(error);
    this.#readyWaiters = [];
    this.#pending?.reject(error);
    this.#pending = undefined;
    this.#queue.clear();
  }

  close(): void {
    this.fail(new Error('agent channel closed by the host'));
    this.#stream.destroy();
  }

  #onData(chunk: Buffer): void {
    for (const frame of this.#decoder.push(chunk)) {
      switch (frame.type) {
        case 'ready':
          this.#banner = frame.banner;
          for (const w of this.#readyWaiters) w.resolve(frame.banner);
          this.#readyWaiters = [];
          break;
        case 'stdout':
          this.#pending?.stdout.push(frame.data);
          this.#pending?.hooks.onStdout?.(frame.data);
          break;
        case 'stderr':
          this.#pending?.stderr.push(frame.data);
          this.#pending?.hooks.onStderr?.(frame.data);
          break;
        case 'done': {
          const pending = this.#pending;
          this.#pending = undefined;
          pending?.resolve({ exit: frame.exit, stdout: Buffer.concat(pending.stdout), stderr: Buffer.concat(pending.stderr) });
          break;
        }
        case 'poweroff':
          this.#powerOffWaiter?.();
          this.#powerOffWaiter = undefined;
          break;
        case 'thawed':
          this.#pending = undefined;
          this.#thawWaiter?.(frame.cpuinfo);
          this.#thawWaiter = undefined;
          break;
      }
    }
  }
}
