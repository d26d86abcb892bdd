// One entry point for booting a guest on any accelerator: QEMU (KVM, TCG) or Bochs.
// Callers describe the guest once; the backend lowers it. The one thing that differs
// in kind is the guest's persistent root disk state: a qcow2 overlay for QEMU, a
// redolog for Bochs (newDiskState makes the right one).
import type { Accel } from '../accel/choose.js';
import type { ImageArtifacts } from '../image/build.js';
import type { AgentGuest } from './agent-guest.js';
import { BochsGuest } from './bochs-guest.js';
import type { GuestBootOptions } from './guest.js';
import { createOverlay, QemuGuest } from './qemu-guest.js';

export interface GuestOptions extends GuestBootOptions {
  readonly accel: Accel;
}

export function bootGuest(options: GuestOptions): Promise<AgentGuest> {
  const { accel, ...rest } = options;
  return accel === 'bochs' ? BochsGuest.boot(rest) : QemuGuest.boot({ ...rest, accel });
}

/**
 * Makes the persistent root disk state for guests of `accel` at `base` (without
 * extension) and returns its path, to pass as `disk` to every boot of the same disk.
 */
export async function newDiskState(accel: Accel, image: ImageArtifacts, base: string, signal?: AbortSignal): Promise<string> {
  if (accel === 'bochs') return `${base}.redolog`; // Bochs creates it on the first boot
  await createOverlay(image.rootDisk, `${base}.qcow2`, signal);
  return `${base}.qcow2`;
}
