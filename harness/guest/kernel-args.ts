// The guest kernel's command line, common to every backend.

/**
 * Kernel command line. quiet: every console byte is an emulated UART write.
 * mitigations=off, cryptomgr.notests: boot-time work a test guest does not need.
 * panic=-1: a panic reboots at once, which ends the emulator (QEMU -no-reboot; Bochs
 * with reboot=t and a fatal triple fault) instead of hanging.
 */
export const KERNEL_ARGS: readonly string[] = [
  'console=ttyS0',
  'quiet',
  'panic=-1',
  'rdinit=/init',
  'mitigations=off',
  'cryptomgr.notests',
  'random.trust_cpu=on',
];
