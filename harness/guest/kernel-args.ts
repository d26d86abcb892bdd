// The guest kernel's command line, common to every backend.

/**
 * Kernel command line. quiet: every console byte is an emulated UART write.
 * mitigations=off, cryptomgr.notests: boot-time work a test guest does not need.
 * panic=-1: a panic reboots at once, which ends the emulator (QEMU -no-reboot; Bochs
 * with reboot=t and a fatal triple fault) instead of hanging.
 * norandmaps: programs load at the same addresses every run, so QEMU 7.2's TCG reuses
 * the code it translated for the last run of the same program instead of translating
 * it again (repeated `rpm -qa` 240 -> 60 ms of CPU). Address layout is not what is tested.
 * no_timer_check: on a loaded host the kernel's boot-time check that the 8254 timer
 * ticks through the IO-APIC can fail under TCG ("MP-BIOS bug: 8254 timer not connected
 * to IO-APIC"), and the boot hangs or panics; cloud images pass it for the same reason.
 */
export const KERNEL_ARGS: readonly string[] = [
  'console=ttyS0',
  'quiet',
  'panic=-1',
  'rdinit=/init',
  'mitigations=off',
  'cryptomgr.notests',
  'random.trust_cpu=on',
  'norandmaps',
  'no_timer_check',
];
