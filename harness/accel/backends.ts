// The backend table: every accelerator levelgate can run guests with, in the order
// `--accel auto` prefers them.
import type { Backend } from './backend.js';
import { bochsBackend } from './bochs-backend.js';
import type { Accel } from './choose.js';
import { qemuBackend } from './qemu-backend.js';

export const BACKENDS: Readonly<Record<Accel, Backend>> = {
  kvm: qemuBackend('kvm'),
  tcg: qemuBackend('tcg'),
  bochs: bochsBackend,
};

export const backendOf = (accel: Accel): Backend => BACKENDS[accel];
