// QEMU as a backend, under KVM or TCG: boots and restores guests, makes their disk
// states (qcow2 overlays), snapshots booted guests, and probes whether it can provide a
// level on this host by booting the guest kernel with the level's CPU.
import { execa } from 'execa';
import { DEFAULTS } from '../model/defaults.js';
import { createOverlay, QemuGuest } from '../guest/qemu-guest.js';
import { emulatorCommand, hostQemu, type Emulator } from '../guest/emulator.js';
import { buildQemuArgs } from '../guest/qemu-args.js';
import { type QemuAccel } from '../model/accel.js';
import { ensureQemuSnapshot } from '../guest/qemu-snapshot.js';
import { levelgateMachine, type QemuMachine, type QemuSnapshotFiles } from '../guest/qemu-machine.js';
import type { GuestBootOptions } from '../guest/guest.js';
import { discardSnapshot } from '../guest/snapshot-store.js';
import type { ImageArtifacts } from '../image/build.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import type { CpuTarget } from '../levels/targets.js';
import type { Backend, ProbeResult, Snapshot, SnapshotRequest } from './backend.js';
import { initSignal } from '../guest/agent-guest.js';
import { limitsNow, type BackendPace, type GivenLimits } from '../model/limits.js';
import { dyingWithParent } from '../host/parent-death.js';

const MARKER = 'LGPROBEOK';

/**
 * Why a probe failed, in QEMU's words, and whether that is definitive: a CPU QEMU
 * refuses under `enforce`, a KVM that is not there, an init the CPU kills (the image's
 * userland, which the cache key covers) are; a timeout, a panic, a KVM that opens but
 * fails, anything else may be the host's state and is asked again next run.
 */
export function classifyProbeFailure(accel: QemuAccel, output: string, timedOut: boolean, timeoutMs: number = DEFAULTS.probeTimeoutMs): { reason: string; definitive: boolean } {
  const line = (re: RegExp) => output.split('\n').find((l) => re.test(l))?.trim();
  const unsupported = line(/doesn't support requested feature/);
  if (unsupported) return { reason: `${accel.toUpperCase()} cannot provide this CPU: ${unsupported}`, definitive: true };
  const kvmBroken = line(/KVM internal error|emulation failure|failed to set MSR|kvm run failed/i);
  if (kvmBroken) return { reason: `KVM opens but cannot run guests (nested or paravirtual KVM?): ${kvmBroken}`, definitive: false };
  const noKvm = line(/Could not access KVM|failed to initialize kvm|No such file or directory/i);
  if (noKvm) return { reason: `KVM is not available: ${noKvm}`, definitive: true };
  if (timedOut) {
    return { reason: `${accel.toUpperCase()} did not boot the guest kernel within ${Math.round(timeoutMs / 1000)} s${accel === 'kvm' ? ' (a KVM that opens but cannot run guests, e.g. nested or paravirtual)' : ''}`, definitive: false };
  }
  const panic = output.split('\n').find((l) => l.includes('Kernel panic'));
  const init = panic ? initSignal(panic) : undefined;
  if (init) return { reason: `the guest image's init (static busybox) was killed by ${init} on this CPU: its userland does not run there (${panic!.trim()})`, definitive: true };
  if (panic) return { reason: `the guest kernel panicked: ${panic.trim()}`, definitive: false };
  return { reason: output.trim().split('\n').slice(-2).join(' ').trim() || `${accel} probe failed without output`, definitive: false };
}

export function explainProbeFailure(accel: QemuAccel, output: string, timedOut: boolean, timeoutMs: number = DEFAULTS.probeTimeoutMs): string {
  return classifyProbeFailure(accel, output, timedOut, timeoutMs).reason;
}

/** The probe's QEMU command line: the guest's own, without disks or agent, straight into busybox. */
export function probeArgs(accel: QemuAccel, target: CpuTarget, image: Pick<ImageArtifacts, 'kernel' | 'initrd'>): string[] {
  return buildQemuArgs({
    name: `levelgate-probe-${accel}-${target.name}`,
    accel,
    cpu: qemuCpuArgument(target),
    memoryMiB: 256,
    firmware: {
      kind: 'kernel',
      kernel: image.kernel,
      initrd: image.initrd,
      // no_timer_check as for guests (kernel-args.ts): a loaded host must not fail the probe in the timer check.
      kernelArgs: ['console=ttyS0', 'quiet', 'panic=-1', 'no_timer_check', 'rdinit=/bin/busybox', '--', 'sh', '-c', `"echo ${MARKER}; busybox poweroff -f"`],
    },
    dataDisks: [],
  });
}

/**
 * A KVM whose device node opens, and which even runs a real-mode boot sector, may still
 * hang or fail once Linux starts (nested or paravirtual KVM without VMX/SVM): only a
 * kernel boot proves it. QEMU refuses a CPU the accelerator cannot provide before it
 * starts (`enforce`), so those answers come at once.
 */
export async function probeQemu(accel: QemuAccel, target: CpuTarget, image: ImageArtifacts, emulator?: Emulator): Promise<ProbeResult> {
  const started = performance.now();
  const qemu = emulator ?? (await hostQemu());
  const once = async () => {
    // A TCG boot of the probe kernel takes ~2.5 s alone and 10-12 s at a load of five per core: stretched, so a busy host is not cached as one that cannot run a level.
    const timeout = limitsNow(DEFAULTS.backends[accel]).probeMs;
    const command = emulatorCommand(qemu, probeArgs(accel, target, image));
    const started = dyingWithParent(command.file, command.args);
    const result = await execa(started.command, started.argv, {
      env: qemu.env,
      stdin: 'ignore',
      all: true,
      reject: false,
      timeout,
      forceKillAfterDelay: 1000,
      cleanup: true,
    });
    const output = result.all ?? '';
    const works = result.exitCode === 0 && output.includes(MARKER);
    return { works, output, ...(works ? { reason: 'booted the guest kernel', definitive: true } : classifyProbeFailure(accel, output, result.timedOut, timeout)) };
  };
  let attempt = await once();
  // A TCG boot that panicked for another reason than the CPU (its init killed by a
  // signal) is the host's load, not an answer: the answer is cached, so it is asked once more.
  if (!attempt.works && accel === 'tcg' && /panicked|did not boot/.test(attempt.reason) && !/was killed by/.test(attempt.reason)) attempt = await once();
  return { accel, target: target.name, works: attempt.works, reason: attempt.reason, durationMs: Math.round(performance.now() - started), definitive: attempt.definitive };
}

/** What one snapshot of a QEMU machine kind gives the backend: the files a restore needs and what the saved guest recorded. */
export type KindSnapshot = QemuSnapshotFiles & Pick<Snapshot, 'bootConsole' | 'installed' | 'detectors' | 'facts'> & { readonly key: string; readonly dir: string };

/**
 * A kind of machine the QEMU backend runs (kola: an ISO install is another machine of
 * the QEMU platform): levelgate's own guest, or a distribution image. A new image kind is
 * one of these: its machine (guest/qemu-machine.ts), its snapshot's save and read-back
 * through the one store, and, where it differs, its pace and the CPUs it cannot run on.
 */
export interface QemuMachineKind {
  /** In the backend's title ("image debian-12"); absent for levelgate's own guest. */
  readonly label?: string;
  /** Its pace (default: the accelerator's, model/defaults.ts) and a limit the user gave. */
  readonly pace?: BackendPace & { readonly given?: GivenLimits };
  /** The machine of one guest: a fresh one per boot (a machine holds its command channel). */
  machine(options: GuestBootOptions): QemuMachine;
  /** The disk a cell's first overlay goes over. */
  backing(image: ImageArtifacts): { readonly path: string; readonly format: 'raw' | 'qcow2' };
  /** Its saved, proven guest at `request.target`, made once and cached. */
  ensureSnapshot(request: SnapshotRequest, accel: QemuAccel, emulator?: Emulator): Promise<KindSnapshot>;
  /** Why it cannot run at `target` (undefined: it can). */
  unusable?(target: CpuTarget): string | undefined;
}

/** levelgate's own guest: its kernel entered directly, its snapshots keyed by the default image. */
export const LEVELGATE_KIND: QemuMachineKind = {
  machine: (options) => levelgateMachine(options.image, options),
  backing: (image) => ({ path: image.rootDisk, format: 'raw' }),
  ensureSnapshot: (request, accel, emulator) =>
    ensureQemuSnapshot(
      {
        image: request.image,
        level: request.target.level,
        ...(request.target.nearMiss ? { target: request.target } : {}),
        accel,
        dataDisks: request.dataDisks,
        ...(emulator ? { emulator } : {}),
        ...(request.warmUp ? { warmUp: request.warmUp } : {}),
        ...(request.memoryMiB ? { memoryMiB: request.memoryMiB } : {}),
      },
      request.options,
    ),
};

/** QEMU under `accel`, running machines of `kind` (default levelgate's own); `emulator` another QEMU than the host's (a tools tree's), which is then in the title. */
export function qemuBackend(accel: QemuAccel, emulator?: Emulator, kind: QemuMachineKind = LEVELGATE_KIND): Backend {
  const withEmulator = emulator ? { emulator } : {};
  const guest = (options: GuestBootOptions) => ({ ...options, accel, ...withEmulator, machine: kind.machine(options) });
  const overlay = async (backing: { path: string; format: 'raw' | 'qcow2' }, base: string, signal?: AbortSignal) => {
    await createOverlay(backing.path, `${base}.qcow2`, signal, backing.format);
    return `${base}.qcow2`;
  };
  const { given, ...pace }: BackendPace & { readonly given?: GivenLimits } = kind.pace ?? DEFAULTS.backends[accel];
  return {
    accel,
    title: `QEMU ${accel.toUpperCase()}${emulator ? ` (${emulator.name}, ${emulator.version})` : ''}${kind.label ? ` (${kind.label})` : ''}`,
    emulator: 'QEMU',
    ...pace,
    ...(given ? { given } : {}),
    diskFormat: 'qcow2',
    boot: (options) => QemuGuest.boot(guest(options)),
    newDiskState: (image, base, signal) => overlay(kind.backing(image), base, signal),
    probe: (target, image) => probeQemu(accel, target, image, emulator),
    version: async () => `qemu ${(emulator ?? (await hostQemu())).version}`,
    ...(kind.unusable ? { unusable: kind.unusable } : {}),
    snapshots: {
      ensure: async (request) => {
        const snapshot = await kind.ensureSnapshot(request, accel, emulator);
        const near = request.target.nearMiss ? { target: request.target } : {};
        return {
          id: snapshot.key,
          target: request.target,
          proof: snapshot.proof,
          bootConsole: snapshot.bootConsole,
          installed: snapshot.installed,
          detectors: snapshot.detectors,
          ...(snapshot.facts ? { facts: snapshot.facts } : {}),
          newDiskState: (base, signal) => overlay({ path: snapshot.disk, format: 'qcow2' }, base, signal),
          restore: (options) => QemuGuest.restore(guest({ ...options, ...near }), snapshot),
          discard: () => discardSnapshot(snapshot),
        };
      },
    },
  };
}
