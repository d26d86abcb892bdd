// Every default and time limit in one place: the runners' usage texts print from here,
// the engine reads from here. Limits are set for QEMU TCG on an unloaded host; each
// backend's slowdown (backends.ts) and the run's load factor stretch them.

export const DEFAULTS = {
  /** Guest memory (MiB). A TCG guest peaks near 300 MiB of QEMU; package managers need the rest. */
  memoryMiB: 1024,
  /** Boot (or snapshot restore) to a proven level. */
  bootTimeoutMs: 60_000,
  /** One package-manager command or query. */
  commandTimeoutMs: 300_000,
  /** One program the checks run (a fixture program, a package's --version). */
  programTimeoutMs: 60_000,
  /** One whole cell. */
  cellTimeoutMs: 600_000,
  /** Extra attempts after an infrastructure error (the cell is then marked flaky). */
  retries: 1,
  /** Memory a guest takes on the host, for the worker budget. */
  memoryPerGuestBytes: 1.5 * 2 ** 30,
  /** Level proof commands. */
  proofCommandTimeoutMs: 60_000,
  /** Reports. */
  junit: 'reports/junit.xml',
  html: 'reports/report.html',
  json: 'reports/gate.json',
  evidence: 'reports/evidence',
} as const;

/** Seconds, for usage texts. */
export const seconds = (ms: number): string => String(Math.round(ms / 1000));
