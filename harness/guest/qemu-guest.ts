// A QEMU guest pinned to one level: boots from its own overlay over the base image,
// proves its level before anything else, runs commands through the agent, and
// releases every process, socket and file it made, however the run ends.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { dir, setGracefulCleanup } from 'tmp-promise';
import type { ImageArtifacts } from '../image/build.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import type { LevelName } from '../levels/table.js';
import { CleanupStack } from '../util/cleanup-stack.js';
import { InfrastructureError, InterruptedError, errorMessage } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import { AgentGuest, describeEvidence as evidenceOf, guestDeath, type AgentGuestParts, type EmulatorExit } from './agent-guest.js';
import { makeDataDisk } from './data-disk.js';
import { GuestConsole } from './console.js';
import { quoteCommand, type GuestFacts } from './guest.js';
import { connectWhenListening } from './connect.js';
import { KERNEL_ARGS } from './kernel-args.js';
import { raceWith, settlesWithin } from './race.js';
import { QmpClient } from './qmp-client.js';
import { buildQemuArgs, type DataDisk, type QemuAccel, type QemuMachineSpec } from './qemu-args.js';

// Temp dirs still present when the process exits (a second Ctrl-C) are removed then.
setGracefulCleanup();

export const QEMU_BINARY = 'qemu-system-x86_64';


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

export async function createOverlay(base: string, overlay: string, signal?: AbortSignal): Promise<void> {
  const result = await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', overlay], {
    reject: false,
    all: true,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  if (result.failed) throw new InfrastructureError(`cannot create overlay over ${base}: ${result.shortMessage}`, { details: result.all ?? '' });
}

export class QemuGuest extends AgentGuest {
  readonly argv: readonly string[];
  readonly spec: QemuMachineSpec;

  private constructor(parts: AgentGuestParts, argv: readonly string[], spec: QemuMachineSpec) {
    super(parts);
    this.argv = argv;
    this.spec = spec;
  }

  /** Boots the guest, waits for its agent and proves its level; throws with evidence otherwise. */
  static async boot(options: QemuGuestOptions): Promise<QemuGuest> {
    const stack = new CleanupStack();
    const started = performance.now();
    const qemuBinary = options.qemuBinary ?? QEMU_BINARY;
    const id = `levelgate-${options.level}-${randomUUID().slice(0, 8)}`;
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
      const exited: Promise<EmulatorExit> = child.then(
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
      const evidence = () => describeEvidence(stderrText, guestConsole);

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

      const bootTimeoutMs = options.bootTimeoutMs ?? (options.accel === 'kvm' ? 30_000 : 60_000);
      const deadline = started + bootTimeoutMs;
      const agentSocket = await raceWith(connectWhenListening(spec.agentSocket, exited, deadline, 'QEMU'), death);
      const agent = new AgentClient(agentSocket);
      stack.defer('close agent channel', () => agent.close());
      qmp = await raceWith(connectWhenListening(spec.qmpSocket, exited, deadline, 'QEMU').then((s) => (s.destroy(), QmpClient.connect(spec.qmpSocket))), death);
      const qmpClient = qmp;
      stack.defer('close QMP', () => qmpClient?.close());

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
      const guest = new QemuGuest(
        {
          facts,
          console: guestConsole,
          agent,
          stack,
          exited,
          death,
          evidence,
          commandLine: quoteCommand([qemuBinary, ...argv]),
          proofHint: `QEMU was started with -cpu ${spec.cpu} (${options.accel})`,
          hostTimesCommands: false,
          ...(spec.shellSocket ? { shell: { socket: spec.shellSocket, device: 'virtio' } } : {}),
          level: options.level,
          ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
        argv,
        spec,
      );
      await guest.becomeReady(started, deadline, bootTimeoutMs);
      return guest;
    } catch (error) {
      await stack.unwind();
      if (options.signal?.aborted && !(error instanceof InterruptedError)) {
        throw new InterruptedError(`guest ${id} stopped during boot: run interrupted`, { cause: error });
      }
      throw error;
    }
  }
}

async function stopQemu(child: ResultPromise, exited: Promise<EmulatorExit>, qmp: QmpClient | undefined): Promise<void> {
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
  return evidenceOf('QEMU', stderr, console);
}

function hintForQemuFailure(stderr: string, accel: QemuAccel): string | undefined {
  if (/TCG doesn't support requested feature/.test(stderr)) return 'TCG cannot emulate this level (AVX-512): use KVM on an AVX-512 host';
  if (/KVM internal error|emulation failure|failed to set MSR/.test(stderr)) return 'this KVM cannot run guests (nested or paravirtual KVM): use --accel tcg';
  if (accel === 'kvm' && /Could not access KVM kernel module|failed to initialize kvm/i.test(stderr)) return 'KVM is not available: use --accel tcg';
  return undefined;
}
