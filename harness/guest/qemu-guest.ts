// A guest of the QEMU platform pinned to one level: one class for every machine of it
// (levelgate's own image, its kernel entered directly; a distribution image, booted
// through its own firmware; see qemu-machine.ts). It boots from its own overlay (or
// restores a booted, proven guest from a snapshot), proves its level before anything
// else, runs commands through its channel, and releases every process, socket and file
// it made, however the run ends.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { DEFAULTS } from '../model/defaults.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import { GuestError, InfrastructureError } from '../util/errors.js';
import { AgentGuest, bootWith, describeEvidence, guestDeath, spawnEmulator, stopEmulator, type AgentGuestParts, type BootContext, type EmulatorExit } from './agent-guest.js';
import { GuestConsole } from './console.js';
import { quoteCommand, type GuestBootOptions, type GuestFacts } from './guest.js';
import { connectWhenListening } from './connect.js';
import { raceWith, settlesWithin } from './race.js';
import { QmpClient } from './qmp-client.js';
import { buildQemuArgs, type QemuMachineSpec } from './qemu-args.js';
import { type QemuAccel } from '../model/accel.js';
import type { ImageArtifacts } from '../image/build.js';
import { levelgateMachine, type ChannelFacts, type QemuMachine, type QemuSnapshotFiles, type QemuStart } from './qemu-machine.js';
import { emulatorCommand, hostQemu, versionOf, type Emulator } from './emulator.js';

export { QEMU_BINARY } from './emulator.js';
export type { QemuSnapshotFiles } from './qemu-machine.js';

/** How to boot a guest of the QEMU platform: levelgate's image (`image`) or another machine (`machine`). */
export type QemuGuestOptions = Omit<GuestBootOptions, 'image'> & {
  readonly accel: QemuAccel;
  /** Which QEMU (default: the host's). */
  readonly emulator?: Emulator;
} & ({ readonly image: ImageArtifacts } | { readonly machine: QemuMachine });

export async function createOverlay(backing: string, overlay: string, signal?: AbortSignal, backingFormat: 'raw' | 'qcow2' = 'raw'): Promise<void> {
  const result = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', backingFormat, overlay], {
    reject: false,
    all: true,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  if (result.failed) throw new InfrastructureError(`cannot create overlay over ${backing}: ${result.shortMessage}`, { details: result.all ?? '' });
}

/** A QEMU process started for a guest: its output read as it comes, its death watched, its stop on the stack. */
interface QemuProcess {
  readonly exited: Promise<EmulatorExit>;
  readonly death: Promise<never>;
  readonly evidence: () => string;
  readonly stderr: () => string;
  readonly console: GuestConsole;
  readonly commandLine: string;
  /** Set once QMP is connected: the stop goes through it (`quit`) before SIGKILL. */
  qmp: QmpClient | undefined;
}

export class QemuGuest extends AgentGuest {
  readonly argv: readonly string[];
  readonly spec: QemuMachineSpec;
  readonly machine: QemuMachine;
  readonly #qmp: QmpClient;

  private constructor(parts: AgentGuestParts, argv: readonly string[], spec: QemuMachineSpec, machine: QemuMachine, qmp: QmpClient) {
    super(parts);
    this.argv = argv;
    this.spec = spec;
    this.machine = machine;
    this.#qmp = qmp;
  }

  /** Boots the guest, waits for its channel and proves its level; throws with evidence otherwise. */
  static boot(options: QemuGuestOptions): Promise<QemuGuest> {
    return QemuGuest.#start(options, { kind: 'boot' });
  }

  /** Boots with the guest's RAM in `ram` (shared mapping) and, for UEFI, its variable store in `vars`, for saveSnapshot(). */
  static bootForSnapshot(options: QemuGuestOptions, ram: string, vars?: string): Promise<QemuGuest> {
    return QemuGuest.#start(options, { kind: 'boot-for-snapshot', ram, ...(vars ? { vars } : {}) });
  }

  /**
   * Restores a booted, proven guest from a snapshot: its RAM mapped copy-on-write, its
   * device state loaded, its disk an overlay (`options.disk`) on the snapshot's. The
   * guest's clock and entropy are refreshed and its cpuinfo read back: a guest that is
   * not the pinned CPU of the snapshot's proof is refused.
   */
  static restore(options: QemuGuestOptions, snapshot: QemuSnapshotFiles): Promise<QemuGuest> {
    return QemuGuest.#start(options, { kind: 'restore', snapshot });
  }

  /** How the command channel came to be (which agent answers, its banner, how it started). */
  get channelFacts(): ChannelFacts {
    return this.machine.channelFacts();
  }

  static #start(options: QemuGuestOptions, start: QemuStart): Promise<QemuGuest> {
    return bootWith(options, async (context: BootContext) => {
      const machine = 'machine' in options ? options.machine : levelgateMachine(options.image, options);
      const emulator = options.emulator ?? (await hostQemu());
      const spec = await machineSpec(options, machine, start, context);
      const argv = buildQemuArgs(spec);
      const qemu = spawnQemu(options, machine, emulator, argv, context);
      const bootTimeoutMs = options.bootTimeoutMs ?? machine.defaultBootMs(options.accel);
      const deadline = context.started + bootTimeoutMs;
      const qmp = await connectQmp(spec, qemu, deadline);
      if (start.kind === 'restore') await loadSnapshotState(qmp, start.snapshot.state, qemu, { id: context.id, accel: options.accel, deadline, bootTimeoutMs });
      const open = (socket: string) => raceWith(connectWhenListening(socket, qemu.exited, deadline, 'QEMU'), qemu.death);
      const channel = await machine.connect(spec.channel!, open, start);
      context.stack.defer('close the command channel', () => channel.close());
      const facts: GuestFacts = {
        id: context.id,
        emulator: 'QEMU',
        emulatorVersion: emulator.version,
        accel: options.accel,
        cpu: spec.cpu,
        requestedLevel: options.level,
        imageDigest: machine.imageDigest,
        kernelRelease: machine.kernelRelease,
      };
      const parts: AgentGuestParts = {
        facts,
        console: qemu.console,
        agent: channel,
        stack: context.stack,
        exited: qemu.exited,
        death: qemu.death,
        evidence: qemu.evidence,
        commandLine: qemu.commandLine,
        proofHint: `QEMU was started with -cpu ${spec.cpu} (${options.accel})${machine.label ? ` on ${machine.label}` : ''}`,
        hostTimesCommands: machine.hostTimesCommands,
        shell: { socket: spec.channel!.shell!, device: 'virtio' },
        level: options.level,
        ...(options.target ? { target: options.target } : {}),
        ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      };
      const guest = new QemuGuest(parts, argv, spec, machine, qmp);
      const limits = { deadline, bootTimeoutMs, death: qemu.death, evidence: qemu.evidence, level: options.level, ...(options.signal ? { signal: options.signal } : {}) };
      if (start.kind === 'restore') await guest.becomeRestored(context.started, deadline, bootTimeoutMs, start.snapshot.proof);
      else {
        await machine.settle(guest, limits);
        await guest.becomeReady(context.started, deadline, bootTimeoutMs);
      }
      return guest;
    });
  }

  /**
   * Saves this guest (booted with bootForSnapshot) as a snapshot: QEMU stops, writes its
   * device state (not the RAM, which is already in the RAM file) to `state`, and exits.
   * The guest is gone afterwards; its disk overlay holds the disk state that goes with it.
   */
  async saveSnapshot(state: string): Promise<void> {
    const qmp = this.#qmp;
    await qmp.execute('stop');
    await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
    await qmp.execute('migrate', { uri: `exec:cat > ${quoteForExec(state)}` });
    for (;;) {
      const status = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
      if (status.status === 'completed') break;
      if (status.status === 'failed' || status.status === 'cancelled') throw new GuestError(`guest ${this.facts.id}: saving the snapshot failed: ${status['error-desc'] ?? status.status}`);
      await sleep(5);
    }
    await this.dispose();
  }
}

/** The machine spec of one guest: its overlay made, its firmware ready, its sockets in its temp dir. */
async function machineSpec(options: QemuGuestOptions, machine: QemuMachine, start: QemuStart, { id, tmp, dataDisks }: BootContext): Promise<QemuMachineSpec> {
  const overlay = options.disk ?? path.join(tmp, 'root.qcow2');
  if (!options.disk) {
    if (start.kind === 'restore') await createOverlay(start.snapshot.disk, overlay, options.signal, 'qcow2');
    else await createOverlay(machine.backing.path, overlay, options.signal, machine.backing.format);
  }
  return {
    name: id,
    accel: options.accel,
    cpu: options.cpu ?? qemuCpuArgument(options.target ?? options.level),
    memoryMiB: options.memoryMiB ?? DEFAULTS.memoryMiB,
    firmware: await machine.firmware(tmp, start),
    rootDisk: overlay,
    dataDisks: [...machine.ownDisks, ...dataDisks],
    ...(machine.seed ? { seed: machine.seed } : {}),
    qmpSocket: path.join(tmp, 'qmp.sock'),
    // Every command port always (and the shell's), so a snapshot's device layout fits every restore (repro --keep uses the shell).
    channel: { agent: path.join(tmp, 'agent.sock'), ...(machine.qga ? { qga: path.join(tmp, 'qga.sock') } : {}), shell: path.join(tmp, 'shell.sock') },
    ...(start.kind === 'boot-for-snapshot' ? { memoryFile: { path: start.ram, share: true } } : {}),
    ...(start.kind === 'restore' ? { memoryFile: { path: start.snapshot.ram, share: false }, incoming: true } : {}),
  };
}

/** Starts QEMU: its console logged and watched, its stderr kept for evidence, its stop (QMP `quit`, then SIGKILL) on the stack. */
function spawnQemu(options: QemuGuestOptions, machine: QemuMachine, emulator: Emulator, argv: readonly string[], { id, stack, tmp }: BootContext): QemuProcess {
  const guestConsole = new GuestConsole(options.consoleLog ?? path.join(tmp, 'console.log'), ...(machine.consoleTailLines ? [machine.consoleTailLines] : []));
  stack.defer('close console log', () => guestConsole.close());
  const command = emulatorCommand(emulator, argv);
  const { child, exited } = spawnEmulator(command.file, command.args, { stdin: 'ignore', signal: options.signal, env: emulator.env });
  let stderrText = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    guestConsole.push(chunk);
    options.onConsoleData?.(chunk);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderrText = (stderrText + chunk.toString('utf8')).slice(-16_384);
  });
  const evidence = () => describeEvidence('QEMU', stderrText, guestConsole);
  // The guest is dead when QEMU exits (unless we stopped it) or the console shows a
  // panic or a failed boot: every wait races this.
  const { death, tearDown } = guestDeath({
    id,
    exited,
    console: guestConsole,
    evidence,
    describeExit: (how) => `QEMU ${how} (guest ${id}${machine.label ? `: ${machine.label}` : ''}, level ${options.level}, ${options.accel})`,
    hint: () => hintForQemuFailure(stderrText, options.accel),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const qemu: QemuProcess = {
    exited,
    death,
    evidence,
    stderr: () => stderrText,
    console: guestConsole,
    commandLine: quoteCommand([...Object.entries(emulator.env).map(([k, v]) => `${k}=${v}`), command.file, ...command.args]),
    qmp: undefined,
  };
  // QMP is closed here, after `quit` went through it: closed first, QEMU would only stop to SIGKILL.
  stack.defer('stop QEMU', async () => {
    tearDown();
    await stopEmulator(child, exited, () => (qemu.qmp ? settlesWithin(qemu.qmp.execute('quit'), 1000) : undefined), 2000);
    qemu.qmp?.close();
  });
  return qemu;
}

/** Connects QMP once QEMU listens (by `deadline`), racing the guest's death. */
async function connectQmp(spec: QemuMachineSpec, qemu: QemuProcess, deadline: number): Promise<QmpClient> {
  const socket = spec.qmpSocket!;
  const qmp = await raceWith(connectWhenListening(socket, qemu.exited, deadline, 'QEMU').then((s) => (s.destroy(), QmpClient.connect(socket))), qemu.death);
  qemu.qmp = qmp;
  return qmp;
}

/** Loads a snapshot's device state into QEMU (started with -incoming defer); a refusal says what QEMU said. */
async function loadSnapshotState(qmp: QmpClient, state: string, qemu: QemuProcess, at: { id: string; accel: QemuAccel; deadline: number; bootTimeoutMs: number }): Promise<void> {
  try {
    await raceWith(loadIncoming(qmp, state, at.deadline), qemu.death, {
      timeoutMs: Math.max(0, at.deadline - performance.now()),
      onTimeout: () => new GuestError(`guest ${at.id}: the snapshot's state did not load within ${Math.round(at.bootTimeoutMs / 1000)} s`, { details: qemu.evidence() }),
    });
  } catch (error) {
    // A lost QMP connection usually means QEMU refused the state and exited: say what QEMU said.
    if (error instanceof GuestError) throw error;
    await settlesWithin(qemu.exited, 2000);
    throw new GuestError(`guest ${at.id}: the snapshot did not restore (${(error as Error).message})`, { details: qemu.evidence(), hint: hintForQemuFailure(qemu.stderr(), at.accel) ?? 'the snapshot is rebuilt' });
  }
}

/** The migration source of `migrate`: QEMU runs it through /bin/sh, so the path is quoted for a shell. */
export function quoteForExec(file: string): string {
  return `'${file.replaceAll("'", `'\\''`)}'`;
}

/** Loads a snapshot's device state into a QEMU started with -incoming defer, then lets the guest run. */
export async function loadIncoming(qmp: QmpClient, state: string, deadline: number): Promise<void> {
  await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
  await qmp.execute('migrate-incoming', { uri: `exec:cat ${quoteForExec(state)}` });
  for (;;) {
    const status = (await qmp.execute('query-status')) as { status?: string };
    if (status.status === 'paused' || status.status === 'postmigrate') break;
    if (status.status === 'running') return;
    if (status.status !== 'inmigrate') throw new GuestError(`the snapshot's state did not load: QEMU is ${status.status ?? 'in an unknown state'}`);
    const migration = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (migration.status === 'failed') throw new GuestError(`the snapshot's state did not load: ${migration['error-desc'] ?? 'migration failed'}`);
    if (performance.now() > deadline) throw new GuestError("the snapshot's state did not load in time");
    await sleep(2);
  }
  await qmp.execute('cont');
}

export function qemuVersion(binary: string): Promise<string> {
  return versionOf([binary]);
}

function hintForQemuFailure(stderr: string, accel: QemuAccel): string | undefined {
  if (/TCG doesn't support requested feature/.test(stderr)) return 'TCG cannot emulate this level (AVX-512): use KVM on an AVX-512 host';
  if (/KVM internal error|emulation failure|failed to set MSR/.test(stderr)) return 'this KVM cannot run guests (nested or paravirtual KVM): use --accel tcg';
  if (accel === 'kvm' && /Could not access KVM kernel module|failed to initialize kvm/i.test(stderr)) return 'KVM is not available: use --accel tcg';
  if (/Unknown savevm section|load of migration failed|Missing section footer/.test(stderr)) return "the snapshot does not fit this QEMU or command line: it is rebuilt";
  return undefined;
}
