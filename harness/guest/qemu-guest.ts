// A QEMU guest pinned to one level: boots from its own overlay over the base image (or
// restores a booted, proven guest from a snapshot), proves its level before anything
// else, runs commands through the agent, and releases every process, socket and file
// it made, however the run ends.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { DEFAULTS } from '../model/defaults.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import { hostStretch, limitsFor } from '../model/limits.js';
import { GuestError, InfrastructureError } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import { AgentGuest, bootWith, describeEvidence, guestDeath, spawnEmulator, stopEmulator, type AgentGuestParts, type BootContext } from './agent-guest.js';
import { GuestConsole } from './console.js';
import { quoteCommand, type GuestBootOptions, type GuestFacts } from './guest.js';
import { connectWhenListening } from './connect.js';
import { KERNEL_ARGS } from './kernel-args.js';
import { raceWith, settlesWithin } from './race.js';
import { QmpClient } from './qmp-client.js';
import { buildQemuArgs, type QemuMachineSpec } from './qemu-args.js';
import { type QemuAccel } from '../model/accel.js';
import type { LevelProof } from '../levels/proof.js';
import { emulatorCommand, hostQemu, versionOf, type Emulator } from './emulator.js';

export { QEMU_BINARY } from './emulator.js';

export interface QemuGuestOptions extends GuestBootOptions {
  readonly accel: QemuAccel;
  /** Which QEMU (default: the host's). */
  readonly emulator?: Emulator;
}

/** What a restore needs: the files a snapshot keeps and the proof made when it was taken. */
export interface QemuSnapshotFiles {
  /** Guest RAM (mapped privately: never written). */
  readonly ram: string;
  /** Device state (a migration stream without RAM). */
  readonly state: string;
  /** The root disk as it was when saved (qcow2 over the base image); cells write overlays on it. */
  readonly disk: string;
  readonly proof: LevelProof;
}

export async function createOverlay(backing: string, overlay: string, signal?: AbortSignal, backingFormat: 'raw' | 'qcow2' = 'raw'): Promise<void> {
  const result = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', backingFormat, overlay], {
    reject: false,
    all: true,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  if (result.failed) throw new InfrastructureError(`cannot create overlay over ${backing}: ${result.shortMessage}`, { details: result.all ?? '' });
}

/** How a QEMU guest starts: a cold boot, a boot whose RAM lives in a file (to be saved), or a restore. */
type Start = { readonly kind: 'boot' } | { readonly kind: 'boot-for-snapshot'; readonly ram: string } | { readonly kind: 'restore'; readonly snapshot: QemuSnapshotFiles };

export class QemuGuest extends AgentGuest {
  readonly argv: readonly string[];
  readonly spec: QemuMachineSpec;
  readonly #qmp: () => QmpClient | undefined;

  private constructor(parts: AgentGuestParts, argv: readonly string[], spec: QemuMachineSpec, qmp: () => QmpClient | undefined) {
    super(parts);
    this.argv = argv;
    this.spec = spec;
    this.#qmp = qmp;
  }

  /** Boots the guest, waits for its agent and proves its level; throws with evidence otherwise. */
  static boot(options: QemuGuestOptions): Promise<QemuGuest> {
    return QemuGuest.#start(options, { kind: 'boot' });
  }

  /** Boots with the guest's RAM in `ram` (shared mapping), for saveSnapshot(). */
  static bootForSnapshot(options: QemuGuestOptions, ram: string): Promise<QemuGuest> {
    return QemuGuest.#start(options, { kind: 'boot-for-snapshot', ram });
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

  static #start(options: QemuGuestOptions, start: Start): Promise<QemuGuest> {
    return bootWith(options, async (context: BootContext) => {
      const { id, stack, started, tmp, dataDisks } = context;
      const emulator = options.emulator ?? (await hostQemu());
      const overlay = options.disk ?? path.join(tmp, 'root.qcow2');
      if (!options.disk) {
        if (start.kind === 'restore') await createOverlay(start.snapshot.disk, overlay, options.signal, 'qcow2');
        else await createOverlay(options.image.rootDisk, overlay, options.signal);
      }
      const spec: QemuMachineSpec = {
        name: id,
        accel: options.accel,
        cpu: options.cpu ?? qemuCpuArgument(options.target ?? options.level),
        memoryMiB: options.memoryMiB ?? DEFAULTS.memoryMiB,
        firmware: { kind: 'kernel', kernel: options.image.kernel, initrd: options.image.initrd, kernelArgs: [...KERNEL_ARGS, ...(options.target?.kernelArgs ?? []), ...(options.extraKernelArgs ?? [])] },
        rootDisk: overlay,
        dataDisks,
        qmpSocket: path.join(tmp, 'qmp.sock'),
        // Every guest has the shell port, so a snapshot's device layout fits every restore (repro --keep uses it).
        channel: { agent: path.join(tmp, 'agent.sock'), shell: path.join(tmp, 'shell.sock') },
        ...(start.kind === 'boot-for-snapshot' ? { memoryFile: { path: start.ram, share: true } } : {}),
        ...(start.kind === 'restore' ? { memoryFile: { path: start.snapshot.ram, share: false }, incoming: true } : {}),
      };
      const argv = buildQemuArgs(spec);
      const guestConsole = new GuestConsole(options.consoleLog ?? path.join(tmp, 'console.log'));
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
      let tearingDown = false;
      let qmp: QmpClient | undefined;
      // QMP is closed here, after `quit` went through it: closed first, QEMU would only stop to SIGKILL.
      stack.defer('stop QEMU', async () => {
        tearingDown = true;
        await stopEmulator(child, exited, () => (qmp ? settlesWithin(qmp.execute('quit'), 1000) : undefined), 2000);
        qmp?.close();
      });
      const evidence = () => describeEvidence('QEMU', stderrText, guestConsole);

      // The guest is dead when QEMU exits (unless we stopped it) or the console shows a
      // panic or a failed boot: every wait races this.
      const death = guestDeath({
        id,
        exited,
        console: guestConsole,
        evidence,
        isTearingDown: () => tearingDown,
        describeExit: (how) => `QEMU ${how} (guest ${id}, level ${options.level}, ${options.accel})`,
        hint: () => hintForQemuFailure(stderrText, options.accel),
        ...(options.signal ? { signal: options.signal } : {}),
      });

      // Without a limit from the run, this backend's for the host's load now.
      const bootTimeoutMs = options.bootTimeoutMs ?? limitsFor(DEFAULTS.backends[options.accel], hostStretch()).bootMs;
      const deadline = started + bootTimeoutMs;
      const qmpClient: QmpClient = await raceWith(connectWhenListening(spec.qmpSocket!, exited, deadline, 'QEMU').then((s) => (s.destroy(), QmpClient.connect(spec.qmpSocket!))), death);
      qmp = qmpClient;
      if (start.kind === 'restore') {
        try {
          await raceWith(loadIncoming(qmpClient, start.snapshot.state, deadline), death, {
            timeoutMs: Math.max(0, deadline - performance.now()),
            onTimeout: () => new GuestError(`guest ${id}: the snapshot's state did not load within ${Math.round(bootTimeoutMs / 1000)} s`, { details: evidence() }),
          });
        } catch (error) {
          // A lost QMP connection usually means QEMU refused the state and exited: say what QEMU said.
          if (error instanceof GuestError) throw error;
          await settlesWithin(exited, 2000);
          throw new GuestError(`guest ${id}: the snapshot did not restore (${(error as Error).message})`, { details: evidence(), hint: hintForQemuFailure(stderrText, options.accel) ?? 'the snapshot is rebuilt' });
        }
      }
      const agentSocket = await raceWith(connectWhenListening(spec.channel!.agent, exited, deadline, 'QEMU'), death);
      const agent = new AgentClient(agentSocket);
      stack.defer('close agent channel', () => agent.close());

      const facts: GuestFacts = {
        id,
        emulator: 'QEMU',
        emulatorVersion: emulator.version,
        accel: options.accel,
        cpu: spec.cpu,
        requestedLevel: options.level,
        imageDigest: options.image.digest,
        kernelRelease: options.image.manifest.kernel.release,
      };
      const guest = new QemuGuest(
        {
          facts,
          console: guestConsole,
          agent,
          stack,
          exited,
          death,
          evidence,
          commandLine: quoteCommand([...Object.entries(emulator.env).map(([k, v]) => `${k}=${v}`), command.file, ...command.args]),
          proofHint: `QEMU was started with -cpu ${spec.cpu} (${options.accel})`,
          hostTimesCommands: false,
          shell: { socket: spec.channel!.shell!, device: 'virtio' },
          level: options.level,
          ...(options.target ? { target: options.target } : {}),
          ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
        argv,
        spec,
        () => qmp,
      );
      if (start.kind === 'restore') await guest.becomeRestored(started, deadline, bootTimeoutMs, start.snapshot.proof);
      else await guest.becomeReady(started, deadline, bootTimeoutMs);
      return guest;
    });
  }

  /**
   * Saves this guest (booted with bootForSnapshot) as a snapshot: QEMU stops, writes its
   * device state (not the RAM, which is already in the RAM file) to `state`, and exits.
   * The guest is gone afterwards; its disk overlay holds the disk state that goes with it.
   */
  async saveSnapshot(state: string): Promise<void> {
    await saveDeviceState(this.#qmp(), this.facts.id, state);
    await this.dispose();
  }
}

/**
 * Saves a QEMU guest whose RAM lives in a shared file: QEMU stops and writes its device
 * state (not the RAM, which is already in the file) to `state`. Every QEMU machine's save.
 */
export async function saveDeviceState(qmp: QmpClient | undefined, id: string, state: string): Promise<void> {
  if (!qmp) throw new GuestError(`guest ${id} has no QMP connection`);
  await qmp.execute('stop');
  await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
  await qmp.execute('migrate', { uri: `exec:cat > ${quoteForExec(state)}` });
  for (;;) {
    const status = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (status.status === 'completed') return;
    if (status.status === 'failed' || status.status === 'cancelled') throw new GuestError(`guest ${id}: saving the snapshot failed: ${status['error-desc'] ?? status.status}`);
    await sleep(5);
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
