// Every default and time limit in one place: the runners' usage texts print from here,
// the engine reads from here. Limits are set for QEMU TCG on an unloaded host;
// accel/placement.ts resolves them per backend (model/limits.ts: its slowdown, the host's load), once.
import type { Accel } from './accel.js';

export interface BackendLimits {
  /** Boot (or restore) to a proven level on an unloaded host. */
  readonly bootTimeoutMs: number;
  /**
   * How much longer the same work takes than under QEMU TCG. Bochs interprets every
   * instruction: CPU-bound work runs 15-25x slower than under TCG (domain.md §2b),
   * short commands about as fast; limits take the slow end.
   */
  readonly slowdown: number;
}

export const DEFAULTS = {
  /** Guest memory (MiB). A TCG guest peaks near 300 MiB of QEMU; package managers need the rest. */
  memoryMiB: 1024,
  /** Boot (or snapshot restore) to a proven level under QEMU TCG. */
  bootTimeoutMs: 60_000,
  /** Per backend: boot limit and slowdown against QEMU TCG. */
  backends: {
    kvm: { bootTimeoutMs: 30_000, slowdown: 1 },
    tcg: { bootTimeoutMs: 60_000, slowdown: 1 },
    bochs: { bootTimeoutMs: 120_000, slowdown: 25 },
  } satisfies Record<Accel, BackendLimits>,
  /**
   * A distribution image's boot through firmware, GRUB and systemd: 75 s or more to its
   * agent under TCG here (BENCHMARKS.md), 325 s at a load of 10-12 on 2 cores (stretched
   * like every limit). LEVELGATE_IMAGE_BOOT_TIMEOUT (seconds) gives it instead.
   */
  imageBootTimeoutMs: 300_000,
  /** The most a loaded host stretches the limits (the load per core is counted up to this). */
  maxLoadStretch: 4,
  /** Snapshots made before the first cell boot this many at a time: their boots stretch at least as much. */
  snapshotBootsAtOnce: 2,
  /** A compose guest's stretch instead of the host's: its snapshot loads the whole compose's metadata into each tool, and guests share 2 cores. */
  composeStretch: 4,
  /**
   * Names a compose audit resolves in one dry run, per driver and engine. dnf5's dry run
   * costs about its start plus little per name (10,000 packages under TCG: 0.47 s for 1
   * name, 0.52 s for 200, 1.65 s for 1,000): under Bochs, where each start is interpreted,
   * all names go in one. zypper's grows faster than the names (3.8 s for 200, 35.6 s for
   * 1,000), and a refused batch is resolved again without its culprit: 200 everywhere
   * (BENCHMARKS.md, compose6). A refused batch is split until the culprit stands alone.
   */
  composeSelectBatch: {
    dnf5: { kvm: 200, tcg: 200, bochs: 3000 },
    zypper: { kvm: 200, tcg: 200, bochs: 200 },
  } satisfies Record<'dnf5' | 'zypper', Record<Accel, number>>,
  /**
   * Names a compose audit installs in one transaction. Transactions are most of the install
   * and run phase (68-93 %: each loads the whole compose's metadata); 100 instead of 25 cut
   * the phase by 22-24 % at 1,000 packages, v3 and v4, with the same verdicts (BENCHMARKS.md,
   * compose5). Under Bochs one transaction of the whole sample (201 names) was not faster
   * than three of 100 at 1,000 packages (compose6: 115 s against 96 s, at a higher load):
   * 100 there too. A refused batch is split until the culprit stands alone.
   */
  composeInstallBatch: 100,
  /** A backend probe's boot of the guest kernel (TCG takes ~2.5 s here, KVM well under 1; 8-11 s under a load of 8). */
  probeTimeoutMs: 20_000,
  /** One package-manager command or query. */
  commandTimeoutMs: 300_000,
  /** A release upgrade or distro-sync of a whole compose's installed system (compose/upgrade.ts): two commands' worth. */
  releaseUpgradeTimeoutMs: 600_000,
  /** A command given to `levelgate exec`, and the default for a guest's commands. */
  execTimeoutMs: 600_000,
  /** How long past a command's own limit the host waits before calling the guest hung. */
  hostGraceMs: 15_000,
  /** One program the checks run (a fixture program, a package's --version). */
  programTimeoutMs: 60_000,
  /** Level proof commands. */
  proofCommandTimeoutMs: 60_000,
  /** Starting an interactive shell in a guest (`repro --shell`). */
  shellStartTimeoutMs: 30_000,
  /** A lost agent channel is explained by the guest's death when that is reported within this long. */
  channelDeathWaitMs: 2_000,
  /** A distribution image's setup commands once it answers: mounting levelgate's data disks, starting its agent, sync. */
  imageSetupCommandTimeoutMs: 60_000,
  /** A distribution image's own boot finishing (cloud-init, systemd) before its snapshot is saved. */
  imageSettleTimeoutMs: 600_000,
  /** Power-off: the agent's acknowledgement, then the emulator's exit. */
  powerOffAckMs: 10_000,
  powerOffExitMs: 30_000,
  /** One whole cell. */
  cellTimeoutMs: 600_000,
  /** Extra attempts after an emulator error (guest death, boot timeout, lost agent; the cell is then flaky). Nothing else is retried. */
  retries: 1,
  /** Memory a guest takes on the host, for the worker budget (QEMU plus its page cache). */
  memoryPerGuestBytes: 1.5 * 2 ** 30,
  /** Reports. */
  junit: 'reports/junit.xml',
  html: 'reports/report.html',
  json: 'reports/gate.json',
  evidence: 'reports/evidence',
} as const;

/** Seconds, for usage texts. */
export const seconds = (ms: number): string => String(Math.round(ms / 1000));
