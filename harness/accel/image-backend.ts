// A full-distribution image as a backend: the same record as the table's (backend.ts),
// for one image. It runs under QEMU (KVM or TCG: the accelerator the probes chose for
// the level); Bochs cannot run it (it boots only levelgate's own kernel, and Debian's
// Bochs 2.7 panics in the XSAVE setup of a kernel that is not told otherwise).
import { BACKENDS } from './backends.js';
import type { AccelChoice } from './choose.js';
import type { Accel } from '../model/accel.js';
import { distributionMachine } from '../guest/distribution-machine.js';
import { DEFAULTS } from '../model/defaults.js';
import { discardSnapshot } from '../guest/snapshot-store.js';
import { ensureCloudSnapshot, type CloudSnapshot, type EnsureCloudSnapshotOptions } from '../guest/cloud-snapshot.js';
import type { DataDisk } from '../model/guest.js';
import type { QemuAccel } from '../model/accel.js';
import { createOverlay, QEMU_BINARY, QemuGuest, qemuVersion, type QemuGuestOptions } from '../guest/qemu-guest.js';
import type { CloudImage } from '../image/cloud/inspect.js';
import type { CloudSupport } from '../image/cloud/support.js';
import type { LevelName } from '../levels/table.js';

/** How to boot one of the image's guests: its machine and accelerator are the backend's. */
export type ImageBootOptions = Omit<QemuGuestOptions, 'accel' | 'image' | 'machine' | 'extraKernelArgs' | 'cpu' | 'target'>;

export interface ImageBackend {
  readonly accel: QemuAccel;
  readonly title: string;
  readonly emulator: 'QEMU';
  /** Firmware, bootloader and a whole systemd boot: minutes, not seconds, under TCG. */
  readonly bootTimeoutMs: number;
  readonly slowdown: number;
  readonly diskFormat: 'qcow2';
  boot(options: ImageBootOptions): Promise<QemuGuest>;
  /** The root disk state for one cell, at `base` (without extension): an overlay over the image. */
  newDiskState(base: string, signal?: AbortSignal): Promise<string>;
  version(): Promise<string>;
  readonly snapshots: {
    ensure(level: LevelName, dataDisks: readonly DataDisk[], options: EnsureCloudSnapshotOptions): Promise<CloudSnapshot>;
    newDiskState(snapshot: CloudSnapshot, base: string, signal?: AbortSignal): Promise<string>;
    restore(snapshot: CloudSnapshot, options: ImageBootOptions): Promise<QemuGuest>;
    discard(snapshot: CloudSnapshot): Promise<void>;
  };
}

export function imageBackend(image: CloudImage, support: CloudSupport, accel: QemuAccel): ImageBackend {
  const own = { machine: distributionMachine(image, support), accel };
  return {
    accel,
    title: `QEMU ${accel.toUpperCase()} (image ${image.name})`,
    emulator: 'QEMU',
    bootTimeoutMs: DEFAULTS.imageBootTimeoutMs,
    slowdown: 1,
    diskFormat: 'qcow2',
    boot: (options) => QemuGuest.boot({ ...options, ...own }),
    async newDiskState(base, signal) {
      await createOverlay(image.path, `${base}.qcow2`, signal, image.format);
      return `${base}.qcow2`;
    },
    version: async () => `qemu ${await qemuVersion(QEMU_BINARY)}`,
    snapshots: {
      ensure: (level, dataDisks, options) => ensureCloudSnapshot({ image, support, level, accel, dataDisks }, options),
      async newDiskState(snapshot, base, signal) {
        await createOverlay(snapshot.disk, `${base}.qcow2`, signal, 'qcow2');
        return `${base}.qcow2`;
      },
      restore: (snapshot, options) => QemuGuest.restore({ ...options, ...own }, snapshot),
      discard: discardSnapshot,
    },
  };
}

/** Whether a backend of the table boots distribution images: QEMU's do (firmware, -drive); Bochs's does not. */
export function bootsImages(accel: Accel): accel is QemuAccel {
  return BACKENDS[accel].emulator === 'QEMU';
}

/** The accelerator for a level of an image run: the probes' choice where it is QEMU; Bochs's levels are skips, with why. */
export function imageAccelChoice(choice: AccelChoice, image: CloudImage): AccelChoice {
  if (choice.accel === null || bootsImages(choice.accel)) return choice;
  return {
    target: choice.target,
    accel: null,
    skipReason: `${choice.target} needs Bochs on this host (${choice.why}), and levelgate boots image ${image.name} under QEMU only: Bochs has no -kernel and no firmware boot levelgate drives for a distribution image, and the image's kernel needs clearcpuid=pku,xsaves,xsavec,fsrm there (Debian's Bochs 2.7 panics in fpu__init_system_xstate otherwise; BENCHMARKS.md shows the stand-in image's own kernel, glibc and rpm proving v4 under Bochs outside a gate); use a host whose KVM runs guests and has AVX-512`,
  };
}
