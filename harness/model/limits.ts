// Every time limit a guest gets, resolved to numbers in one place by one stretch policy.
// defaults.ts sets them for QEMU TCG on an idle host; a guest gets its backend's boot
// limit and, for work inside it, its backend's slowdown; and every default stretches by
// how busy the host is: the run's workers per core, or the host's 1-minute load per core
// now (capped), whichever is larger. An emulated guest's clock and boot stretch with the
// load (a TCG boot of 2 s took 8-11 s at a load of 8 on 2 cores; Bochs's 14 s boot took
// over 120 s at a load of 12). A limit the user gave (a flag, the config, the
// environment) is used as given. accel/placement.ts resolves a run's limits once per backend;
// limitsNow, those of a guest outside a run. Nothing else scales a limit.
import os from 'node:os';
import { DEFAULTS } from './defaults.js';

/** How busy the host is: the run's guests at once, the 1-minute load, the cores. */
export interface HostBusy {
  readonly workers?: number;
  readonly load?: number;
  readonly cores?: number;
}

/** How much longer work takes on this host now than on an idle one: at least 1. */
export function hostStretch({ workers = 0, load = os.loadavg()[0] ?? 0, cores = os.availableParallelism() }: HostBusy = {}): number {
  return Math.max(1, workers / cores, Math.min(DEFAULTS.maxLoadStretch, load / cores));
}

/** A snapshot's boot before the first cell: made `DEFAULTS.snapshotBootsAtOnce` at a time, so stretched at least that much. */
export function snapshotStretch(stretch: number): number {
  return Math.max(DEFAULTS.snapshotBootsAtOnce, stretch);
}

/** A backend's pace, as the table gives it (defaults.ts `backends`, or a distribution image's boot). */
export interface BackendPace {
  /** Boot (or restore) to a proven level on an idle host. */
  readonly bootTimeoutMs: number;
  /** How much longer the same work takes than under QEMU TCG. */
  readonly slowdown: number;
}

/** Limits a user gave: used as they are (a cell's is for QEMU TCG: it still gets the backend's slowdown). */
export interface GivenLimits {
  readonly bootMs?: number;
  readonly cellMs?: number;
  readonly commandMs?: number;
  readonly programMs?: number;
}

/** Every limit of one guest, in milliseconds. */
export interface GuestLimits {
  /** Boot or restore to a proven level. */
  readonly bootMs: number;
  /** One package-manager command or query. */
  readonly commandMs: number;
  /** One program the checks run. */
  readonly programMs: number;
  /** One whole cell. */
  readonly cellMs: number;
  /** A backend probe's boot of the guest kernel. */
  readonly probeMs: number;
}

/** The limits of a guest on a backend of `pace`, on a host `stretch` times slower than idle. */
export function limitsFor(pace: BackendPace, stretch: number, given: GivenLimits = {}): GuestLimits {
  const work = (ms: number) => Math.round(ms * stretch * pace.slowdown);
  return {
    bootMs: Math.round(given.bootMs ?? pace.bootTimeoutMs * stretch),
    commandMs: given.commandMs ?? work(DEFAULTS.commandTimeoutMs),
    programMs: given.programMs ?? work(DEFAULTS.programTimeoutMs),
    cellMs: Math.round((given.cellMs ?? DEFAULTS.cellTimeoutMs * stretch) * pace.slowdown),
    probeMs: work(DEFAULTS.probeTimeoutMs),
  };
}

/** The limits of a guest outside a run's placement (a probe, a pinned guest, a snapshot's boot given no limit): its backend's at the host's load now. */
export function limitsNow(pace: BackendPace, given: GivenLimits = {}): GuestLimits {
  return limitsFor(pace, hostStretch(), given);
}

/** A distribution image's pace: firmware, bootloader and a whole systemd boot; LEVELGATE_IMAGE_BOOT_TIMEOUT (seconds) gives its boot limit. */
export function imagePace(env: NodeJS.ProcessEnv = process.env): { readonly pace: BackendPace; readonly given: GivenLimits } {
  const seconds = Number(env.LEVELGATE_IMAGE_BOOT_TIMEOUT);
  return { pace: { bootTimeoutMs: DEFAULTS.imageBootTimeoutMs, slowdown: 1 }, given: seconds > 0 ? { bootMs: seconds * 1000 } : {} };
}
