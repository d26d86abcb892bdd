// The backend table: every accelerator levelgate can run guests with, in the order
// `--accel auto` prefers them.
import type { Backend } from './backend.js';
import { bochsBackend } from './bochs-backend.js';
import type { Accel } from '../model/accel.js';
import { qemuBackend } from './qemu-backend.js';
import type { Emulator } from '../guest/emulator.js';

export type BackendTable = Readonly<Record<Accel, Backend>>;

export const BACKENDS: BackendTable = {
  kvm: qemuBackend('kvm'),
  tcg: qemuBackend('tcg'),
  bochs: bochsBackend,
};

/** The table with another QEMU than the host's (a tools tree's) for KVM and TCG. */
export function backendsWith(emulator: Emulator): BackendTable {
  return { kvm: qemuBackend('kvm', emulator), tcg: qemuBackend('tcg', emulator), bochs: bochsBackend };
}

