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
import { discardSnapshot } from '../guest/snapshot-store.js';
import type { ImageArtifacts } from '../image/build.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import type { CpuTarget } from '../levels/targets.js';
import type { Backend, ProbeResult } from './backend.js';
import { initSignal } from '../guest/agent-guest.js';
import { hostStretch, limitsFor } from '../model/limits.js';

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
    const timeout = limitsFor(DEFAULTS.backends[accel], hostStretch()).probeMs;
    const command = emulatorCommand(qemu, probeArgs(accel, target, image));
    const result = await execa(command.file, command.args, {
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

/** QEMU under `accel`; `emulator` another QEMU than the host's (a tools tree's), which is then in the title. */
export function qemuBackend(accel: QemuAccel, emulator?: Emulator): Backend {
  const withEmulator = emulator ? { emulator } : {};
  return {
    accel,
    title: `QEMU ${accel.toUpperCase()}${emulator ? ` (${emulator.name}, ${emulator.version})` : ''}`,
    emulator: 'QEMU',
    ...DEFAULTS.backends[accel],
    diskFormat: 'qcow2',
    boot: (options) => QemuGuest.boot({ ...options, accel, ...withEmulator }),
    async newDiskState(image, base, signal) {
      await createOverlay(image.rootDisk, `${base}.qcow2`, signal);
      return `${base}.qcow2`;
    },
    probe: (target, image) => probeQemu(accel, target, image, emulator),
    version: async () => `qemu ${(emulator ?? (await hostQemu())).version}`,
    snapshots: {
      ensure: async (request) => {
        const snapshot = await ensureQemuSnapshot(
          { image: request.image, level: request.target.level, ...(request.target.nearMiss ? { target: request.target } : {}), accel, dataDisks: request.dataDisks, ...withEmulator, ...(request.warmUp ? { warmUp: request.warmUp } : {}), ...(request.memoryMiB ? { memoryMiB: request.memoryMiB } : {}) },
          request.options,
        );
        return {
          id: snapshot.key,
          target: request.target,
          proof: snapshot.proof,
          bootConsole: snapshot.bootConsole,
          installed: snapshot.installed,
          detectors: snapshot.detectors,
          async newDiskState(base, signal) {
            await createOverlay(snapshot.disk, `${base}.qcow2`, signal, 'qcow2');
            return `${base}.qcow2`;
          },
          restore: (options) => QemuGuest.restore({ ...options, accel, ...withEmulator, ...(request.target.nearMiss ? { target: request.target } : {}) }, snapshot),
          discard: () => discardSnapshot(snapshot),
        };
      },
    },
  };
}
