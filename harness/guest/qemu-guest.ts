// A QEMU guest pinned to one level: boots from its own overlay over the base image,
// proves its level before anything else, runs commands through the agent, and
// releases every process, socket and file it made, however the run ends.
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { dir, setGracefulCleanup } from 'tmp-promise';
import type { ImageArtifacts } from '../image/build.js';
import { proveLevel, type LevelProof } from '../levels/proof.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import type { LevelName } from '../levels/table.js';
import { CleanupStack } from '../util/cleanup-stack.js';
import { GuestError, InfrastructureError, InterruptedError, LevelgateError, LevelProofError, errorMessage } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import { makeDataDisk } from './data-disk.js';
import { GuestConsole, type ConsoleEvent } from './console.js';
import { quoteCommand, signalName, type CommandResult, type ExecOptions, type Guest, type GuestFacts, type GuestTimings } from './guest.js';
import { QmpClient } from './qmp-client.js';
import { buildQemuArgs, type DataDisk, type QemuAccel, type QemuMachineSpec } from './qemu-args.js';

// Temp dirs still present when the process exits (a second Ctrl-C) are removed then.
setGracefulCleanup();

export const QEMU_BINARY = 'qemu-system-x86_64';

/**
 * Kernel command line. quiet: every console byte is an emulated UART write.
 * mitigations=off, cryptomgr.notests: boot-time work a test guest does not need.
 * panic=-1 with -no-reboot: a panic ends QEMU at once instead of hanging.
 */
export const KERNEL_ARGS: readonly string[] = [
  'console=ttyS0',
  'quiet',
  'panic=-1',
  'rdinit=/init',
  'mitigations=off',
  'cryptomgr.notests',
  'random.trust_cpu=on',
];

export interface QemuGuestOptions {
  readonly image: ImageArtifacts;
  readonly level: LevelName;
  readonly accel: QemuAccel;
  /** Use this -cpu argument instead of the level's (experiments, and tests that prove a mismatch is caught). */
  readonly cpu?: string;
  readonly qemuBinary?: string;
  readonly memoryMiB?: number;
  readonly dataDisks?: readonly DataDisk[];
  /** Host folders to attach read-only at /mnt/NAME (made into disk images in the guest's temp dir). */
  readonly dataFolders?: readonly { readonly name: string; readonly folder: string }[];
  /** Until the agent is ready. Default: 60 s under TCG, 30 s under KVM. */
  readonly bootTimeoutMs?: number;
  /** Where the serial console is written; by default inside the guest's temp dir (removed). */
  readonly consoleLog?: string;
  /** Boot this existing overlay (a reboot of the same disk) instead of a fresh one; it is kept. */
  readonly disk?: string;
  /** Where the guest's temp dir goes (overlay, sockets); default the OS temp dir. */
  readonly tmpDir?: string;
  readonly signal?: AbortSignal;
  readonly extraKernelArgs?: readonly string[];
  readonly onConsoleData?: (chunk: Buffer) => void;
  /** The default limit for commands that give none. */
  readonly commandTimeoutMs?: number;
  /** Attach a shell port (see openShell). */
  readonly shell?: boolean;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 10 * 60_000;
/** How long past a command's own timeout the host waits before calling the guest hung. */
const HOST_GRACE_MS = 15_000;

interface ExitInfo {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
}

export async function createOverlay(base: string, overlay: string, signal?: AbortSignal): Promise<void> {
  const result = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', overlay], {
    reject: false,
    all: true,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  if (result.failed) throw new InfrastructureError(`cannot create overlay over ${base}: ${result.shortMessage}`, { details: result.all ?? '' });
}

async function connectWhenListening(socketPath: string, until: Promise<unknown>, deadline: number): Promise<net.Socket> {
  let gaveUp = false;
  void until.then(() => (gaveUp = true));
  for (;;) {
    if (gaveUp) throw new GuestError(`QEMU exited before it opened ${path.basename(socketPath)}`);
    if (performance.now() > deadline) throw new GuestError(`QEMU did not open ${path.basename(socketPath)} in time`);
    const socket = await new Promise<net.Socket | undefined>((resolve) => {
      const s = net.createConnection(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', () => {
        s.destroy();
        resolve(undefined);
      });
    });
    if (socket) return socket;
    await sleep(5);
  }
}

export class QemuGuest implements Guest {
  readonly facts: GuestFacts;
  readonly console: GuestConsole;
  readonly argv: readonly string[];
  readonly spec: QemuMachineSpec;
  readonly #stack: CleanupStack;
  readonly #agent: AgentClient;
  readonly #exited: Promise<ExitInfo>;
  readonly #death: Promise<never>;
  readonly #options: QemuGuestOptions;
  readonly #stderr: () => string;
  #proof: LevelProof | undefined;
  #timings: GuestTimings = { bootToReadyMs: 0, proofMs: 0 };
  #dispose: Promise<void> | undefined;
  #exitInfo: ExitInfo | undefined;

  private constructor(init: {
    facts: GuestFacts;
    console: GuestConsole;
    argv: string[];
    spec: QemuMachineSpec;
    stack: CleanupStack;
    agent: AgentClient;
    exited: Promise<ExitInfo>;
    death: Promise<never>;
    options: QemuGuestOptions;
    stderr: () => string;
  }) {
    this.facts = init.facts;
    this.console = init.console;
    this.argv = init.argv;
    this.spec = init.spec;
    this.#stack = init.stack;
    this.#agent = init.agent;
    this.#exited = init.exited;
    this.#death = init.death;
    this.#options = init.options;
    this.#stderr = init.stderr;
    void this.#exited.then((info) => (this.#exitInfo = info));
  }

  get proof(): LevelProof {
    if (!this.#proof) throw new Error('guest has no proof yet');
    return this.#proof;
  }

  get timings(): GuestTimings {
    return this.#timings;
  }

  /** The full QEMU command line, for repro output. */
  get commandLine(): string {
    return quoteCommand([this.#options.qemuBinary ?? QEMU_BINARY, ...this.argv]);
  }

  /** Boots the guest, waits for its agent and proves its level; throws with evidence otherwise. */
  static async boot(options: QemuGuestOptions): Promise<QemuGuest> {
    const stack = new CleanupStack();
    const started = performance.now();
    const qemuBinary = options.qemuBinary ?? QEMU_BINARY;
    const id = `levelgate-${options.level}-${randomUUID().slice(0, 8)}`;
    let guest: QemuGuest | undefined;
    let stderrText = '';
    try {
      options.signal?.throwIfAborted();
      const tmp = await dir({ prefix: `${id}-`, unsafeCleanup: true, ...(options.tmpDir ? { tmpdir: options.tmpDir } : {}) });
      stack.defer('remove guest temp dir', () => tmp.cleanup());
      const overlay = options.disk ?? path.join(tmp.path, 'root.qcow2');
      if (!options.disk) await createOverlay(options.image.rootDisk, overlay, options.signal);
      const dataDisks = [...(options.dataDisks ?? [])];
      for (const { name, folder } of options.dataFolders ?? []) {
        dataDisks.push(await makeDataDisk(name, folder, path.join(tmp.path, `data-${name}.img`)));
      }

      const spec: QemuMachineSpec = {
        name: id,
        accel: options.accel,
        cpu: options.cpu ?? qemuCpuArgument(options.level),
        memoryMiB: options.memoryMiB ?? 1024,
        kernel: options.image.kernel,
        initrd: options.image.initrd,
        kernelArgs: [...KERNEL_ARGS, ...(options.extraKernelArgs ?? [])],
        rootDisk: overlay,
        dataDisks,
        agentSocket: path.join(tmp.path, 'agent.sock'),
        qmpSocket: path.join(tmp.path, 'qmp.sock'),
        ...(options.shell ? { shellSocket: path.join(tmp.path, 'shell.sock') } : {}),
      };
      const argv = buildQemuArgs(spec);
      const guestConsole = new GuestConsole(options.consoleLog ?? path.join(tmp.path, 'console.log'));
      stack.defer('close console log', () => guestConsole.close());

      const child: ResultPromise = execa(qemuBinary, argv, {
        stdin: 'ignore',
        stdout: 'pipe',
        stderr: 'pipe',
        buffer: false,
        reject: false,
        // QEMU never outlives the harness: killed when Node exits, escalated to SIGKILL.
        cleanup: true,
        forceKillAfterDelay: 2000,
        ...(options.signal ? { cancelSignal: options.signal } : {}),
      });
      const exited: Promise<ExitInfo> = child.then(
        (r) => ({ exitCode: r.exitCode, signal: r.signal }),
        (error: unknown) => ({ exitCode: undefined, signal: errorMessage(error) }),
      );
      child.stdout!.on('data', (chunk: Buffer) => {
        guestConsole.push(chunk);
        options.onConsoleData?.(chunk);
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        stderrText = (stderrText + chunk.toString('utf8')).slice(-16_384);
      });
      let tearingDown = false;
      stack.defer('stop QEMU', async () => {
        tearingDown = true;
        await stopQemu(child, exited, qmp);
      });
      let qmp: QmpClient | undefined;

      // The guest is dead when QEMU exits (unless we stopped it) or the console shows a
      // panic or a failed boot: every wait races this.
      const death = new Promise<never>((_, reject) => {
        void exited.then((info) => {
          if (tearingDown) return;
          if (options.signal?.aborted) return reject(new InterruptedError(`guest ${id} stopped: run interrupted`));
          const how = info.signal ? `was killed by ${info.signal}` : `exited with status ${info.exitCode}`;
          reject(
            new GuestError(`QEMU ${how} (guest ${id}, level ${options.level}, ${options.accel})`, {
              details: describeEvidence(stderrText, guestConsole),
              hint: hintForQemuFailure(stderrText, options.accel),
            }),
          );
        });
        guestConsole.onEvent((event) => {
          if (event.kind === 'kernel-panic' || event.kind === 'boot-failed') {
            reject(new GuestError(`guest ${id} ${event.kind === 'kernel-panic' ? 'panicked' : 'failed to boot'}: ${event.line}`, { details: describeEvidence(stderrText, guestConsole) }));
          }
        });
      });
      death.catch(() => {});

      const bootTimeoutMs = options.bootTimeoutMs ?? (options.accel === 'kvm' ? 30_000 : 60_000);
      const deadline = started + bootTimeoutMs;
      const agentSocket = await raceWith(connectWhenListening(spec.agentSocket, exited, deadline), death);
      const agent = new AgentClient(agentSocket);
      stack.defer('close agent channel', () => agent.close());
      qmp = await raceWith(connectWhenListening(spec.qmpSocket, exited, deadline).then((s) => (s.destroy(), QmpClient.connect(spec.qmpSocket))), death);
      const qmpClient = qmp;
      stack.defer("close QMP", () => qmpClient?.close());

      const facts: GuestFacts = {
        id,
        backend: 'qemu',
        emulatorVersion: await qemuVersion(qemuBinary),
        accel: options.accel,
        cpu: spec.cpu,
        requestedLevel: options.level,
        imageDigest: options.image.digest,
        kernelRelease: options.image.manifest.kernel.release,
      };
      guest = new QemuGuest({ facts, console: guestConsole, argv, spec, stack, agent, exited, death, options, stderr: () => stderrText });

      await raceWith(agent.ready(), death, {
        timeoutMs: Math.max(0, deadline - performance.now()),
        onTimeout: () =>
          new GuestError(`guest ${id} did not become ready within ${Math.round(bootTimeoutMs / 1000)} s (level ${options.level}, ${options.accel})`, {
            details: describeEvidence(stderrText, guestConsole),
            hint: 'the console tail shows how far it got; raise --boot-timeout if the host is loaded',
          }),
        signal: options.signal,
      });
      const ready = performance.now();
      guest.#proof = await guest.#proveLevel();
      guest.#timings = { bootToReadyMs: Math.round(ready - started), proofMs: Math.round(performance.now() - ready) };
      return guest;
    } catch (error) {
      await stack.unwind();
      if (options.signal?.aborted && !(error instanceof InterruptedError)) {
        throw new InterruptedError(`guest ${id} stopped during boot: run interrupted`, { cause: error });
      }
      throw error;
    }
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<CommandResult> {
    if (this.#dispose) throw new GuestError(`guest ${this.facts.id} is shut down; cannot run ${quoteCommand(argv)}`);
    const started = performance.now();
    const eventsBefore = this.console.events.length;
    const timeoutMs = options.timeoutMs ?? this.#options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const command = quoteCommand(argv);
    const signal = options.signal ?? this.#options.signal;
    const reply = this.#agent.exec(
      {
        argv,
        timeoutMs,
        env: options.env ?? {},
        cwd: options.cwd ?? '',
        input: typeof options.input === 'string' ? Buffer.from(options.input) : (options.input ?? Buffer.alloc(0)),
      },
      { ...(options.onStdout ? { onStdout: options.onStdout } : {}), ...(options.onStderr ? { onStderr: options.onStderr } : {}) },
    );
    const onAbort = () => this.#agent.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { exit, stdout, stderr } = await raceWith(reply, this.#death, {
        timeoutMs: timeoutMs + HOST_GRACE_MS,
        onTimeout: () =>
          new GuestError(`guest ${this.facts.id} did not answer within ${Math.round((timeoutMs + HOST_GRACE_MS) / 1000)} s while running: ${command}`, {
            details: describeEvidence(this.#stderr(), this.console),
            hint: 'the guest is hung; the console tail shows its last words',
          }),
        signal,
      });
      // The kernel's "trap invalid opcode" line travels over the emulated UART and can
      // arrive after the agent's answer: give the evidence a moment to catch up.
      if (exit.signal !== 0) await this.#consoleCatchUp(eventsBefore, 500);
      return {
        argv,
        command,
        exitCode: exit.exitCode,
        signal: signalName(exit.signal),
        timedOut: exit.timedOut,
        spawnFailed: exit.spawnFailed,
        stdout: stdout.toString('utf8'),
        stderr: stderr.toString('utf8'),
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        consoleEvents: this.console.events.slice(eventsBefore) as ConsoleEvent[],
      };
    } catch (error) {
      throw await this.#explain(error, command);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Waits until the console has an event past `index`, at most `ms`. */
  async #consoleCatchUp(index: number, ms: number): Promise<void> {
    if (this.console.events.length > index) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const unsubscribe = this.console.onEvent(done);
      function done() {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  }

  /**
   * The agent channel closes a moment before QEMU's exit is reported: a lost channel is
   * explained by the guest's death when that comes within two seconds.
   */
  async #explain(error: unknown, command: string): Promise<unknown> {
    if (error instanceof LevelgateError) return error;
    const death = await raceWith(
      this.#death.then(
        () => undefined,
        (e: unknown) => e,
      ),
      new Promise<undefined>(() => {}),
      { timeoutMs: 2000, onTimeout: () => new Error('no death') },
    ).catch(() => undefined);
    return (
      death ??
      new GuestError(`lost the agent channel of guest ${this.facts.id} while running: ${command}`, {
        cause: error,
        details: describeEvidence(this.#stderr(), this.console),
      })
    );
  }

  async powerOff(): Promise<void> {
    await raceWith(this.#agent.powerOff(), this.#death, { timeoutMs: 10_000, onTimeout: () => new GuestError(`guest ${this.facts.id} did not acknowledge power-off`) });
    if (!(await settlesWithin(this.#exited, 30_000))) throw new GuestError(`guest ${this.facts.id} acknowledged power-off but QEMU did not exit within 30 s`);
  }

  /**
   * Starts an interactive shell (bash on a pty, relayed by levelgate-agent --shell) on the guest's shell port
   * and returns the host socket to attach to. Needs the guest booted with `shell: true`.
   */
  async openShell(): Promise<string> {
    if (!this.spec.shellSocket) throw new GuestError(`guest ${this.facts.id} was booted without a shell port`);
    const script =
      'for p in /sys/class/virtio-ports/*; do [ "$(cat "$p/name")" = levelgate.shell ] && dev=/dev/${p##*/}; done; ' +
      '[ -n "$dev" ] || { echo "no levelgate.shell port" >&2; exit 1; }; ' +
      'setsid /usr/lib/levelgate/agent --shell "$dev" </dev/null >/dev/null 2>&1 &';
    const result = await this.exec(['sh', '-c', script], { timeoutMs: 10_000 });
    if (result.exitCode !== 0) throw new GuestError(`cannot start a shell in guest ${this.facts.id}: ${result.stderr.trim()}`);
    return this.spec.shellSocket;
  }

  /** QEMU's exit, once it happened (undefined while it runs). */
  get exitInfo(): ExitInfo | undefined {
    return this.#exitInfo;
  }

  dispose(): Promise<void> {
    this.#dispose ??= this.#stack.unwind().then((errors) => {
      if (errors.length > 0) throw new AggregateError(errors, `guest ${this.facts.id}: ${errors.map((e) => e.message).join('; ')}`);
    });
    return this.#dispose;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  async #proveLevel(): Promise<LevelProof> {
    const run = async (argv: string[]) => {
      const result = await this.exec(argv, { timeoutMs: 60_000 });
      if (result.exitCode !== 0) {
        throw new LevelProofError(`level proof: \`${result.command}\` failed in guest ${this.facts.id} (${result.signal ?? `exit ${result.exitCode}`})`, {
          details: result.stderr,
        });
      }
      return result.stdout;
    };
    const evidence = {
      cpuinfo: await run(['cat', '/proc/cpuinfo']),
      glibcHelp: await run(['/lib64/ld-linux-x86-64.so.2', '--help']),
      canaryOutput: await run(['/usr/lib/levelgate/canary']),
    };
    const proof = proveLevel(this.#options.level, evidence);
    if (!proof.ok) {
      throw new LevelProofError(`guest ${this.facts.id} does not see ${this.#options.level}: ${proof.problems[0]}`, {
        details: [...proof.problems, `flags: ${proof.flags.join(' ')}`, `glibc supports: ${proof.glibcSupported.join(', ') || 'none'}`].join('\n'),
        hint: `QEMU was started with -cpu ${this.spec.cpu} (${this.#options.accel})`,
      });
    }
    return proof;
  }
}

async function stopQemu(child: ResultPromise, exited: Promise<ExitInfo>, qmp: QmpClient | undefined): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    await exited;
    return;
  }
  if (qmp) await settlesWithin(qmp.execute('quit'), 1000);
  if (!(await settlesWithin(exited, 2000))) {
    child.kill('SIGKILL');
    await exited;
  }
}

const versions = new Map<string, Promise<string>>();
function qemuVersion(binary: string): Promise<string> {
  let v = versions.get(binary);
  if (!v) {
    v = execa(binary, ['--version'], { reject: false }).then((r) => /version (\S+)/.exec(r.stdout)?.[1] ?? 'unknown');
    versions.set(binary, v);
  }
  return v;
}

function describeEvidence(stderr: string, console: GuestConsole): string {
  return [stderr.trim() ? `QEMU stderr:\n${stderr.trim()}` : '', `console tail (${console.path}):\n${console.tail()}`].filter(Boolean).join('\n');
}

function hintForQemuFailure(stderr: string, accel: QemuAccel): string | undefined {
  if (/TCG doesn't support requested feature/.test(stderr)) return 'TCG cannot emulate this level (AVX-512): use KVM on an AVX-512 host';
  if (/KVM internal error|emulation failure|failed to set MSR/.test(stderr)) return 'this KVM cannot run guests (nested or paravirtual KVM): use --accel tcg';
  if (accel === 'kvm' && /Could not access KVM kernel module|failed to initialize kvm/i.test(stderr)) return 'KVM is not available: use --accel tcg';
  return undefined;
}

/** True when `promise` settles (either way) within `ms`; the timer never outlives it. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const never = new Promise<never>(() => {});
  return raceWith(
    promise.then(
      () => true,
      () => true,
    ),
    never,
    { timeoutMs: ms, onTimeout: () => new Error('timeout') },
  ).catch(() => false);
}

interface RaceOptions {
  readonly timeoutMs?: number;
  readonly onTimeout?: () => Error;
  readonly signal?: AbortSignal | undefined;
}

/** Resolves with `work`, unless `other` settles first or the timeout or abort comes first. */
async function raceWith<T, U>(work: Promise<T>, other: Promise<U>, options: RaceOptions = {}): Promise<T | U> {
  const controller = new AbortController();
  const contenders: Promise<T | U>[] = [work, other];
  if (options.timeoutMs !== undefined) {
    contenders.push(
      sleep(options.timeoutMs, undefined, { signal: controller.signal }).then(
        () => {
          throw options.onTimeout?.() ?? new GuestError(`timed out after ${options.timeoutMs} ms`);
        },
        () => new Promise<never>(() => {}),
      ),
    );
  }
  if (options.signal) {
    const signal = options.signal;
    contenders.push(
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(new InterruptedError('run interrupted'));
        signal.addEventListener('abort', () => reject(new InterruptedError('run interrupted')), { once: true, signal: controller.signal });
      }),
    );
  }
  try {
    return await Promise.race(contenders);
  } finally {
    controller.abort();
  }
}
