// The engines a guest can run on: the words every floor above shares.

/** QEMU's accelerators. */
export type QemuAccel = 'tcg' | 'kvm';
/** QEMU's accelerators, and Bochs: a second emulator for what QEMU cannot emulate (AVX-512). */
export type Accel = QemuAccel | 'bochs';
export type AccelRequest = 'auto' | Accel;
export const QEMU_ACCELS: readonly QemuAccel[] = ['kvm', 'tcg'];
export const ACCELS: readonly Accel[] = [...QEMU_ACCELS, 'bochs'];
export const ACCEL_REQUESTS: readonly AccelRequest[] = ['auto', ...ACCELS];
