// What every backend's guest does the same way once its emulator runs: wait for the
// agent, prove the level, run commands with their limits, power off, and unwind the
// cleanup stack. A backend (qemu-guest.ts, bochs-guest.ts) only starts its emulator,
// connects the agent and console, and says how the guest dies and how to stop it.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { dir, setGracefulCleanup } from 'tmp-promise';
import { DEFAULTS } from '../model/defaults.js';
import { parseCpuinfoFlags } from '../levels/detect.js';
import { PROOF_COMMANDS, proveLevel, type LevelEvidence, type LevelProof } from '../levels/proof.js';
import type { LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import { CleanupStack } from '../util/cleanup-stack.js';
import { errorMessage, GuestError, InitKilledError, InterruptedError, LevelgateError, LevelProofError } from '../util/errors.js';
import type { AgentChannel } from './agent-channel.js';
import type { ConsoleEvent, GuestConsole } from './console.js';
import { makeDataDisk } from '../host/data-disk.js';
import { dyingWithParent } from '../host/parent-death.js';
import { quoteCommand, signalName, type CommandResult, type ExecOptions, type Guest, type GuestBootOptions, type GuestFacts, type GuestTimings } from './guest.js';
import type { DataDisk } from '../model/guest.js';
import { raceWith, settlesWithin } from './race.js';

// Guest temp dirs still present when the process exits (a second Ctrl-C) are removed then.
setGracefulCleanup();

export interface EmulatorExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
}

export interface AgentGuestParts {
  readonly facts: GuestFacts;
  readonly console: GuestConsole;
  /** The command channel: levelgate's agent, or another that speaks the same interface (an image's qemu-guest-agent). */
  readonly agent: AgentChannel;
  readonly stack: CleanupStack;
  /** Settles when the emulator process has exited. */
  readonly exited: Promise<EmulatorExit>;
  /** Rejects with the reason when the guest dies on its own (exit, panic, failed boot). */
  readonly death: Promise<never>;
  /** Evidence for error messages: the emulator's own words and the console tail. */
  readonly evidence: () => string;
  /** The emulator command, for repro output. */
  readonly commandLine: string;
  /** What the level proof's failure should point at (the CPU model and accelerator). */
  readonly proofHint: string;
  /**
   * The guest's clock cannot time commands (Bochs counts instructions, not seconds):
   * the host times them and kills over the channel instead.
   */
  readonly hostTimesCommands: boolean;
  /** The guest device of the shell port and its host socket (repro --keep), when attached. */
  readonly shell?: { readonly socket: string; readonly device: string };
  readonly level: LevelName;
  /** The CPU the guest is pinned to, when it is a near miss of a level. */
  readonly target?: CpuTarget;
  readonly commandTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

const DEFAULT_COMMAND_TIMEOUT_MS = DEFAULTS.execTimeoutMs;
const HOST_GRACE_MS = DEFAULTS.hostGraceMs;

export class AgentGuest implements Guest {
  readonly facts: GuestFacts;
  readonly console: GuestConsole;
  readonly commandLine: string;
  readonly #parts: AgentGuestParts;
  #proof: LevelProof | undefined;
  #timings: GuestTimings = { bootToReadyMs: 0, proofMs: 0 };
  #dispose: Promise<void> | undefined;
  #exit: EmulatorExit | undefined;

  constructor(parts: AgentGuestParts) {
    this.#parts = parts;
    this.facts = parts.facts;
    this.console = parts.console;
    this.commandLine = parts.commandLine;
    void parts.exited.then((info) => (this.#exit = info));
  }

  get proof(): LevelProof {
    if (!this.#proof) throw new Error('guest has no proof yet');
    return this.#proof;
  }

  get timings(): GuestTimings {
    return this.#timings;
  }

  /** The emulator's exit, once it happened (undefined while it runs). */
  get exitInfo(): EmulatorExit | undefined {
    return this.#exit;
  }

  /** Waits for the agent's first word (by `deadline`, a performance.now() time), seeds the kernel's entropy, then proves the level. */
  protected async becomeReady(started: number, deadline: number, bootTimeoutMs: number): Promise<void> {
    const { agent, death, evidence, signal } = this.#parts;
    await raceWith(agent.ready(), death, {
      timeoutMs: Math.max(0, deadline - performance.now()),
      onTimeout: () =>
        new GuestError(`guest ${this.facts.id} did not become ready within ${Math.round(bootTimeoutMs / 1000)} s (level ${this.facts.requestedLevel}, ${this.facts.accel})`, {
          details: evidence(),
          hint: 'the console tail shows how far it got; raise --boot-timeout if the host is loaded',
        }),
      signal,
    });
    // A fresh kernel has no entropy yet: seeded as a restored guest is.
    await agent.seed?.();
    const ready = performance.now();
    this.#proof = await this.#proveLevel();
    this.#timings = { bootToReadyMs: Math.round(ready - started), proofMs: Math.round(performance.now() - ready) };
  }

  /**
   * A restored guest says no banner: it is woken (clock, entropy) and its cpuinfo read
   * back in one exchange. The snapshot cannot vouch for the CPU it now runs on (its
   * cpuinfo is the saved RAM's), so the level is proven again, live: CPUID read by a new
   * process, glibc's hwcaps and the canaries rerun. A snapshot restored onto another CPU
   * than its proof was made on (a copy under another key, another emulator) is refused.
   */
  protected async becomeRestored(started: number, deadline: number, bootTimeoutMs: number, saved: LevelProof): Promise<void> {
    const { agent, death, evidence, signal } = this.#parts;
    const cpuinfo = await raceWith(agent.thaw(), death, {
      timeoutMs: Math.max(0, deadline - performance.now()),
      onTimeout: () =>
        new GuestError(`guest ${this.facts.id} restored from a snapshot did not answer within ${Math.round(bootTimeoutMs / 1000)} s (level ${this.facts.requestedLevel}, ${this.facts.accel})`, {
          details: evidence(),
          hint: 'the snapshot may not fit this emulator: it is rebuilt on the next run (or use --cold-boot)',
        }),
      signal,
    }).catch(async (error: unknown) => {
      // The channel closes a moment before the emulator's exit is reported: say why it closed.
      throw await this.#explain(error, 'while it was woken from a snapshot');
    });
    const ready = performance.now();
    const flags = [...parseCpuinfoFlags(cpuinfo)].sort();
    if (flags.join(' ') !== saved.flags.join(' ')) {
      throw new LevelProofError(`guest ${this.facts.id} restored from a snapshot is not the guest its proof was made on`, {
        details: `snapshot's proof: ${saved.flags.join(' ')}\nrestored guest:  ${flags.join(' ')}`,
        hint: this.#parts.proofHint,
      });
    }
    this.#proof = await this.#proveLevel('restored from a snapshot');
    this.#timings = { bootToReadyMs: Math.round(ready - started), proofMs: Math.round(performance.now() - ready) };
  }

  async exec(argv: readonly string[], options: ExecOptions = {}): Promise<CommandResult> {
    if (this.#dispose) throw new GuestError(`guest ${this.facts.id} is shut down; cannot run ${quoteCommand(argv)}`);
    const { agent, death, evidence, hostTimesCommands } = this.#parts;
    const started = performance.now();
    const eventsBefore = this.console.events.length;
    const timeoutMs = options.timeoutMs ?? this.#parts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const command = quoteCommand(argv);
    const signal = options.signal ?? this.#parts.signal;
    const reply = agent.exec(
      {
        argv,
        timeoutMs: hostTimesCommands ? 0 : timeoutMs,
        env: options.env ?? {},
        cwd: options.cwd ?? '',
        input: typeof options.input === 'string' ? Buffer.from(options.input) : (options.input ?? Buffer.alloc(0)),
      },
      { ...(options.onStdout ? { onStdout: options.onStdout } : {}), ...(options.onStderr ? { onStderr: options.onStderr } : {}) },
    );
    let hostTimedOut = false;
    const hostTimer = hostTimesCommands
      ? setTimeout(() => {
          hostTimedOut = true;
          agent.kill();
        }, timeoutMs)
      : undefined;
    const onAbort = () => agent.kill();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const { exit, stdout, stderr } = await raceWith(reply, death, {
        timeoutMs: timeoutMs + HOST_GRACE_MS,
        onTimeout: () =>
          new GuestError(`guest ${this.facts.id} did not answer within ${Math.round((timeoutMs + HOST_GRACE_MS) / 1000)} s while running: ${command}`, {
            details: evidence(),
            hint: 'the guest is hung; the console tail shows its last words',
          }),
        signal,
      });
      // The kernel's "trap invalid opcode" line travels over the emulated UART and can
      // arrive well after the agent's answer on a busy host: wait for it (a SIGILL) or
      // for any console word (another signal), a bounded moment.
      if (exit.signal === SIGILL) await this.#consoleCatchUp(eventsBefore, 3000, (e) => e.kind === 'illegal-instruction');
      else if (exit.signal !== 0) await this.#consoleCatchUp(eventsBefore, 500);
      return {
        argv,
        command,
        exitCode: exit.exitCode,
        signal: signalName(exit.signal),
        timedOut: exit.timedOut || (hostTimedOut && exit.killed),
        spawnFailed: exit.spawnFailed,
        stdout: stdout.toString('utf8'),
        stdoutBytes: stdout,
        stderr: stderr.toString('utf8'),
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        consoleEvents: this.console.events.slice(eventsBefore) as ConsoleEvent[],
      };
    } catch (error) {
      throw await this.#explain(error, `while running: ${command}`);
    } finally {
      clearTimeout(hostTimer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Waits until the console has an event past `index` (one that `wanted` accepts), at most `ms`. */
  async #consoleCatchUp(index: number, ms: number, wanted: (event: ConsoleEvent) => boolean = () => true): Promise<void> {
    if (this.console.events.slice(index).some(wanted)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const unsubscribe = this.console.onEvent((event) => {
        if (wanted(event)) done();
      });
      function done() {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  }

  /**
   * The agent channel closes a moment before the emulator's exit is reported: a lost
   * channel is explained by the guest's death when that comes within
   * DEFAULTS.channelDeathWaitMs.
   */
  async #explain(error: unknown, doing: string): Promise<unknown> {
    if (error instanceof LevelgateError) return error;
    const death = await raceWith(
      this.#parts.death.then(
        () => undefined,
        (e: unknown) => e,
      ),
      new Promise<undefined>(() => {}),
      { timeoutMs: DEFAULTS.channelDeathWaitMs, onTimeout: () => new Error('no death') },
    ).catch(() => undefined);
    return (
      death ??
      new GuestError(`lost the agent channel of guest ${this.facts.id} ${doing}`, {
        cause: error,
        details: this.#parts.evidence(),
      })
    );
  }

  async powerOff(): Promise<void> {
    const { agent, death, exited } = this.#parts;
    await raceWith(agent.powerOff(), death, { timeoutMs: DEFAULTS.powerOffAckMs, onTimeout: () => new GuestError(`guest ${this.facts.id} did not acknowledge power-off`) });
    if (!(await settlesWithin(exited, DEFAULTS.powerOffExitMs))) throw new GuestError(`guest ${this.facts.id} acknowledged power-off but ${this.facts.emulator} did not exit within ${DEFAULTS.powerOffExitMs / 1000} s`);
  }

  /**
   * Starts an interactive shell (bash on a pty, relayed by levelgate-agent --shell) on the
   * guest's shell port and returns the host socket to attach to. Needs the guest booted
   * with `shell: true`.
   */
  async openShell(): Promise<string> {
    const shell = this.#parts.shell;
    if (!shell) throw new GuestError(`guest ${this.facts.id} was booted without a shell port`);
    const script =
      `dev=${shell.device}; ` +
      'if [ "$dev" = virtio ]; then dev=; for p in /sys/class/virtio-ports/*; do [ "$(cat "$p/name")" = levelgate.shell ] && dev=/dev/${p##*/}; done; fi; ' +
      '[ -n "$dev" ] || { echo "no levelgate.shell port" >&2; exit 1; }; ' +
      'setsid /usr/lib/levelgate/agent --shell "$dev" </dev/null >/dev/null 2>&1 &';
    const result = await this.exec(['sh', '-c', script], { timeoutMs: DEFAULTS.shellStartTimeoutMs });
    if (result.exitCode !== 0) throw new GuestError(`cannot start a shell in guest ${this.facts.id}: ${result.stderr.trim()}`);
    return shell.socket;
  }

  dispose(): Promise<void> {
    this.#dispose ??= this.#parts.stack.unwind().then((errors) => {
      if (errors.length > 0) throw new AggregateError(errors, `guest ${this.facts.id}: ${errors.map((e) => e.message).join('; ')}`);
    });
    return this.#dispose;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  /** Runs PROOF_COMMANDS in the guest and proves the level from their output; `how` says which guest in messages. */
  async #proveLevel(how = ''): Promise<LevelProof> {
    const run = async (argv: readonly string[]) => {
      const result = await this.exec(argv, { timeoutMs: DEFAULTS.proofCommandTimeoutMs });
      if (result.exitCode !== 0) {
        throw new LevelProofError(`level proof: \`${result.command}\` failed in guest ${this.facts.id} (${result.signal ?? `exit ${result.exitCode}`})`, {
          details: result.stderr,
        });
      }
      return result.stdout;
    };
    // Every SIGILL must leave its kernel line (forensics read it): the canaries below trap
    // a dozen times, which would spend the kernel's printk rate limit (10 lines per 5 s)
    // and silence the next program's trap. The limit is off in levelgate's guests.
    await run(['sh', '-c', 'echo 0 > /proc/sys/kernel/printk_ratelimit']);
    const evidence: LevelEvidence = {
      cpuinfo: await run(PROOF_COMMANDS.cpuinfo),
      cpuid: await run(PROOF_COMMANDS.cpuid),
      glibcHelp: await run(PROOF_COMMANDS.glibcHelp),
      canaryOutput: await run(PROOF_COMMANDS.canaryOutput),
    };
    const level = this.#parts.level;
    const proof = proveLevel(this.#parts.target ?? level, evidence);
    if (!proof.ok) {
      throw new LevelProofError(`guest ${this.facts.id}${how ? ` ${how}` : ''} does not see ${this.#parts.target?.name ?? level}: ${proof.problems[0]}`, {
        details: [...proof.problems, `flags: ${proof.flags.join(' ')}`, `cpuid: ${proof.cpuid.join(' ')}`, `glibc supports: ${proof.glibcSupported.join(', ') || 'none'}`].join('\n'),
        hint: this.#parts.proofHint,
      });
    }
    return proof;
  }
}

/** Linux's signal number of SIGILL, as the agent reports it. */
const SIGILL = 4;

const SIGNALS: Readonly<Record<number, string>> = { 4: 'SIGILL', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV' };

/** The signal that killed PID 1, from the kernel's "Attempted to kill init! exitcode=0x00000004". */
export function initSignal(panicLine: string): string | undefined {
  const code = /Attempted to kill init! exitcode=0x([0-9a-f]+)/i.exec(panicLine)?.[1];
  if (code === undefined) return undefined;
  const status = Number.parseInt(code, 16);
  const signal = status & 0x7f;
  return signal === 0 ? undefined : (SIGNALS[signal] ?? `signal ${signal}`);
}

/** A guest's death, and how the host says that the exit to come is its own doing. */
export interface GuestDeath {
  /** Rejects when the guest dies; never settles otherwise. */
  readonly death: Promise<never>;
  /** From now on the emulator's exit is the host's teardown, not a death. */
  readonly tearDown: () => void;
}

/**
 * The guest is dead when its emulator exits (unless the host stopped it: `tearDown`) or
 * the console shows a panic or a failed boot: every wait races `death`.
 */
export function guestDeath(options: {
  readonly id: string;
  readonly exited: Promise<EmulatorExit>;
  readonly console: GuestConsole;
  readonly evidence: () => string;
  /** The message for an exit, given "exited with status N" or "was killed by SIG". */
  readonly describeExit: (how: string) => string;
  readonly hint: () => string | undefined;
  readonly signal?: AbortSignal;
}): GuestDeath {
  let tearingDown = false;
  const death = new Promise<never>((_, reject) => {
    void options.exited.then((info) => {
      if (tearingDown) return;
      if (options.signal?.aborted) return reject(new InterruptedError(`guest ${options.id} stopped: run interrupted`));
      const how = info.signal ? `was killed by ${info.signal}` : `exited with status ${info.exitCode}`;
      const hint = options.hint();
      reject(new GuestError(options.describeExit(how), { details: options.evidence(), ...(hint ? { hint } : {}) }));
    });
    options.console.onEvent((event) => {
      if (event.kind === 'kernel-panic' || event.kind === 'boot-failed') {
        const init = initSignal(event.line);
        if (init) reject(new InitKilledError(`guest ${options.id}: its init (PID 1) was killed by ${init}: the image's userland does not run on this CPU (${event.line.trim()})`, init, { details: options.evidence() }));
        else reject(new GuestError(`guest ${options.id} ${event.kind === 'kernel-panic' ? 'panicked' : 'failed to boot'}: ${event.line}`, { details: options.evidence() }));
      }
    });
  });
  death.catch(() => {});
  return { death, tearDown: () => void (tearingDown = true) };
}

/** The emulator's own words (stderr or log) and the console tail, for error details. */
export function describeEvidence(emulator: string, emulatorOutput: string, console: GuestConsole): string {
  return [emulatorOutput.trim() ? `${emulator} output:\n${emulatorOutput.trim()}` : '', `console tail (${console.path}):\n${console.tail()}`].filter(Boolean).join('\n');
}

/** What a backend's boot works in: set up by bootWith for every backend alike. */
export interface BootContext {
  readonly id: string;
  readonly stack: CleanupStack;
  /** performance.now() when the boot began: boot limits and timings count from here. */
  readonly started: number;
  /** The guest's own temp dir (removed by the stack). */
  readonly tmp: string;
  /** The options' data disks, then one made from each data folder. */
  readonly dataDisks: readonly DataDisk[];
}

/**
 * Runs a backend's boot inside what every backend shares: an id, a cleanup stack that
 * owns everything the boot makes, the guest's temp dir and data disks. A failed boot
 * unwinds the stack; one that the run's signal ended is an InterruptedError.
 */
export async function bootWith<T>(options: Pick<GuestBootOptions, 'level' | 'signal' | 'tmpDir' | 'dataDisks' | 'dataFolders'>, boot: (context: BootContext) => Promise<T>): Promise<T> {
  const stack = new CleanupStack();
  const started = performance.now();
  const id = `levelgate-${options.level}-${randomUUID().slice(0, 8)}`;
  try {
    options.signal?.throwIfAborted();
    const tmp = await dir({ prefix: `${id}-`, unsafeCleanup: true, ...(options.tmpDir ? { tmpdir: options.tmpDir } : {}) });
    stack.defer('remove guest temp dir', () => tmp.cleanup());
    const dataDisks = [...(options.dataDisks ?? [])];
    for (const { name, folder } of options.dataFolders ?? []) dataDisks.push(await makeDataDisk(name, folder, path.join(tmp.path, `data-${name}.img`)));
    return await boot({ id, stack, started, tmp: tmp.path, dataDisks });
  } catch (error) {
    await stack.unwind();
    if (options.signal?.aborted && !(error instanceof InterruptedError)) {
      throw new InterruptedError(`guest ${id} stopped during boot: run interrupted`, { cause: error });
    }
    throw error;
  }
}

/**
 * Starts an emulator process whose output the backend reads as it comes. It never
 * outlives the harness: execa kills it when Node exits, escalating to SIGKILL, and the
 * kernel kills it when Node itself is killed (host/parent-death.ts).
 */
export function spawnEmulator(
  command: string,
  argv: readonly string[],
  options: { readonly stdin: 'ignore' | 'pipe'; readonly signal?: AbortSignal | undefined; readonly env?: Readonly<Record<string, string>> },
): { child: ResultPromise; exited: Promise<EmulatorExit> } {
  const started = dyingWithParent(command, argv);
  const child: ResultPromise = execa(started.command, started.argv, {
    ...(options.env && Object.keys(options.env).length > 0 ? { env: options.env } : {}),
    stdin: options.stdin,
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    cleanup: true,
    forceKillAfterDelay: 2000,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  const exited: Promise<EmulatorExit> = child.then(
    (r) => ({ exitCode: r.exitCode, signal: r.signal }),
    (error: unknown) => ({ exitCode: undefined, signal: errorMessage(error) }),
  );
  return { child, exited };
}

/** Stops an emulator: the backend's graceful way first, SIGKILL when it has not exited within `graceMs`. */
export async function stopEmulator(child: ResultPromise, exited: Promise<EmulatorExit>, gracefully: () => Promise<unknown> | void, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    await exited;
    return;
  }
  await gracefully();
  if (!(await settlesWithin(exited, graceMs))) {
    child.kill('SIGKILL');
    await exited;
  }
}
