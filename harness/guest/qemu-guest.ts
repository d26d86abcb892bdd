// A QEMU guest pinned to one level: boots from its own overlay over the base image,
// proves its level before anything else, runs commands through the agent, and
// releases every process, socket and file it made, however the run ends.
import path from 'node:path';
import { execa } from 'execa';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import { InfrastructureError } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import { AgentGuest, bootWith, describeEvidence, guestDeath, spawnEmulator, stopEmulator, type AgentGuestParts } from './agent-guest.js';
import { GuestConsole } from './console.js';
import { quoteCommand, type GuestBootOptions, type GuestFacts } from './guest.js';
import { connectWhenListening } from './connect.js';
import { KERNEL_ARGS } from './kernel-args.js';
import { raceWith, settlesWithin } from './race.js';
import { QmpClient } from './qmp-client.js';
import { buildQemuArgs, type QemuAccel, type QemuMachineSpec } from './qemu-args.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

export interface QemuGuestOptions extends GuestBootOptions {
  readonly accel: QemuAccel;
  readonly qemuBinary?: string;
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
  static boot(options: QemuGuestOptions): Promise<QemuGuest> {
    return bootWith(options, async ({ id, stack, started, tmp, dataDisks }) => {
      const qemuBinary = options.qemuBinary ?? QEMU_BINARY;
      const overlay = options.disk ?? path.join(tmp, 'root.qcow2');
      if (!options.disk) await createOverlay(options.image.rootDisk, overlay, options.signal);
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
        agentSocket: path.join(tmp, 'agent.sock'),
        qmpSocket: path.join(tmp, 'qmp.sock'),
        ...(options.shell ? { shellSocket: path.join(tmp, 'shell.sock') } : {}),
      };
      const argv = buildQemuArgs(spec);
      const guestConsole = new GuestConsole(options.consoleLog ?? path.join(tmp, 'console.log'));
      stack.defer('close console log', () => guestConsole.close());

      const { child, exited } = spawnEmulator(qemuBinary, argv, { stdin: 'ignore', signal: options.signal });
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
      stack.defer('stop QEMU', async () => {
        tearingDown = true;
        await stopEmulator(child, exited, () => (qmp ? settlesWithin(qmp.execute('quit'), 1000) : undefined), 2000);
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
    });
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

function hintForQemuFailure(stderr: string, accel: QemuAccel): string | undefined {
  if (/TCG doesn't support requested feature/.test(stderr)) return 'TCG cannot emulate this level (AVX-512): use KVM on an AVX-512 host';
  if (/KVM internal error|emulation failure|failed to set MSR/.test(stderr)) return 'this KVM cannot run guests (nested or paravirtual KVM): use --accel tcg';
  if (accel === 'kvm' && /Could not access KVM kernel module|failed to initialize kvm/i.test(stderr)) return 'KVM is not available: use --accel tcg';
  return undefined;
}
