// A full-distribution image as a machine of the QEMU backend (kola: an ISO install is
// another machine of the QEMU platform): the same `Backend` records as the table's
// (backends.ts), with the image's machine, pace and snapshots. It runs under QEMU (KVM
// or TCG: the accelerator the probes chose for the level); Bochs cannot run it (it boots
// only levelgate's own kernel, and Debian's Bochs 2.7 panics in the XSAVE setup of a
// kernel that is not told otherwise), and it is pinned at exact levels only.
import type { AccelChoice } from './choose.js';
import type { Accel } from '../model/accel.js';
import type { BackendTable } from './backends.js';
import { bochsBackend } from './bochs-backend.js';
import { qemuBackend, type QemuMachineKind } from './qemu-backend.js';
import { distributionMachine } from '../guest/distribution-machine.js';
import { ensureCloudSnapshot } from '../guest/cloud-snapshot.js';
import { imagePace } from '../model/limits.js';
import { QEMU_ACCELS, type QemuAccel } from '../model/accel.js';
import type { CloudImage } from '../image/cloud/inspect.js';
import type { CloudSupport } from '../image/cloud/support.js';
import { GuestError } from '../util/errors.js';

/** The machine kind of `image`: its firmware boot, its pace (LEVELGATE_IMAGE_BOOT_TIMEOUT as given), its snapshots. */
export function distributionKind(image: CloudImage, support: CloudSupport): QemuMachineKind {
  const { pace, given } = imagePace();
  return {
    label: `image ${image.name}`,
    pace: { ...pace, given },
    machine: () => distributionMachine(image, support),
    backing: () => ({ path: image.path, format: image.format }),
    unusable: (target) => (target.nearMiss ? `near-miss CPUs run the default guest only: image ${image.name} is pinned at exact levels` : undefined),
    async ensureSnapshot(request, accel) {
      const { log, signal } = request.options;
      const ensure = () => ensureCloudSnapshot({ image, support, level: request.target.level, accel, dataDisks: request.dataDisks, ...(request.memoryMiB ? { memoryMiB: request.memoryMiB } : {}) }, request.options);
      // A loaded host can make a kernel's boot-time timer check fail ("IO-APIC + timer
      // doesn't work!", a panic): the image's command line is its own, so that boot is tried once more.
      const snapshot = await ensure().catch((error: unknown) => {
        if (signal?.aborted || !(error instanceof GuestError) || !/panicked/.test(error.message)) throw error;
        log?.(`image ${image.name}: the ${request.target.level} boot ${error.message.split('\n')[0]}; booting it once more`);
        return ensure();
      });
      return { ...snapshot, detectors: [] };
    },
  };
}

/** The backend table of a run on `image`: QEMU's accelerators run its machine; Bochs's entry refuses it. */
export function imageBackends(image: CloudImage, support: CloudSupport): BackendTable {
  const kind = distributionKind(image, support);
  return {
    kvm: qemuBackend('kvm', undefined, kind),
    tcg: qemuBackend('tcg', undefined, kind),
    bochs: { ...bochsBackend, unusable: () => `image ${image.name} cannot run under Bochs: levels that only Bochs provides on this host are skipped for distribution images` },
  };
}

/** Whether an accelerator boots distribution images: QEMU's do (firmware, -drive); Bochs does not. */
export function bootsImages(accel: Accel): accel is QemuAccel {
  return (QEMU_ACCELS as readonly Accel[]).includes(accel);
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
