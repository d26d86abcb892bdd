// What a guest backend is: one record per accelerator (QEMU KVM, QEMU TCG, Bochs) with
// how it boots guests, makes disk states, snapshots booted guests, probes this host,
// and how much slower it runs than the reference (QEMU TCG). The engine asks this
// table; nothing outside it branches on a backend's name.
import type { GuestCommand } from '../model/guest.js';
import type { AgentGuest } from '../guest/agent-guest.js';
import type { GuestBootOptions } from '../guest/guest.js';
import type { DataDisk } from '../model/guest.js';
import type { ImageArtifacts } from '../image/build.js';
import type { DetectorReading } from '../drivers/detectors.js';
import type { LevelProof } from '../levels/proof.js';
import type { CpuTarget } from '../levels/targets.js';
import type { Log } from '../util/log.js';
import type { Accel } from '../model/accel.js';
import type { GivenLimits } from '../model/limits.js';
import type { ImageFacts } from '../image/cloud/inspect.js';

export interface ProbeResult {
  readonly accel: Accel;
  /** The CPU target's name ("v3", "v3-fma"). */
  readonly target: string;
  readonly works: boolean;
  /** Why not, in the emulator's words where it gave any. */
  readonly reason: string;
  readonly durationMs: number;
  /**
   * The answer cannot change on this host until what the probe cache's key covers does
   * (a guest booted, a CPU QEMU refuses under enforce, an accelerator or emulator that
   * is not there): only such answers are cached. A timeout or a panic may be the host's
   * load: it is asked again next run. Absent: not definitive.
   */
  readonly definitive?: boolean;
}

/** A booted, proven guest saved once and restored by every cell that starts at its level. */
export interface Snapshot {
  readonly id: string;
  readonly target: CpuTarget;
  /** The proof made when the saved guest booted (a restored guest is proven again, live). */
  readonly proof: LevelProof;
  /** The console of that boot. */
  readonly bootConsole: string;
  /** The rpm database of the saved guest, read when it was saved. */
  readonly installed: readonly string[];
  /** Every level detector's answer in the saved guest: evidence of the save only; each cell asks its own guest. */
  readonly detectors: readonly DetectorReading[];
  /** A distribution image's: what it is (os-release, kernel, glibc, package managers), read in the boot that saved it. */
  readonly facts?: ImageFacts;
  /** A disk state for one cell, on top of the snapshot's frozen disk. */
  newDiskState(base: string, signal?: AbortSignal): Promise<string>;
  /** Restores the saved guest onto `options.disk`; throws when the snapshot does not fit. */
  restore(options: GuestBootOptions): Promise<AgentGuest>;
  /** Removes it from the cache (it is rebuilt on the next ensure). */
  discard(): Promise<void>;
}

export interface SnapshotRequest {
  readonly image: ImageArtifacts;
  readonly target: CpuTarget;
  readonly dataDisks: readonly DataDisk[];
  /** Commands run in the guest before it is saved (page cache, package-manager caches). */
  readonly warmUp?: readonly GuestCommand[];
  /** The saved guest's memory (default DEFAULTS.memoryMiB; Bochs's own default under Bochs). */
  readonly memoryMiB?: number;
  readonly options: { readonly log?: Log; readonly signal?: AbortSignal; readonly bootTimeoutMs?: number; readonly rebuild?: boolean };
}

export interface Backend {
  readonly accel: Accel;
  /** "QEMU TCG", "Bochs". */
  readonly title: string;
  /** The emulator's name, for facts and messages. */
  readonly emulator: 'QEMU' | 'Bochs';
  /**
   * How much longer the same work takes than under QEMU TCG, for time limits. Bochs
   * interprets every instruction: CPU-bound work runs 15-25x slower than under TCG
   * (domain.md §2b), short commands about as fast; limits take the slow end.
   */
  readonly slowdown: number;
  /** Boot (or restore) to a proven level, on an unloaded host. */
  readonly bootTimeoutMs: number;
  /** A limit the user gave for this backend's guests (LEVELGATE_IMAGE_BOOT_TIMEOUT), used as given. */
  readonly given?: GivenLimits;
  /** Why its machine cannot run at `target` (a distribution image at a near miss, or under Bochs); absent or undefined: it can. */
  unusable?(target: CpuTarget): string | undefined;
  /** Backends that share a disk format can boot each other's disk states. */
  readonly diskFormat: 'qcow2' | 'bochs-redolog';
  boot(options: GuestBootOptions): Promise<AgentGuest>;
  /** The persistent root disk state for one cell's guests, at `base` (without extension). */
  newDiskState(image: ImageArtifacts, base: string, signal?: AbortSignal): Promise<string>;
  /** Whether this backend provides the CPU `target` on this host: by booting, never by reading flags. */
  probe(target: CpuTarget, image: ImageArtifacts): Promise<ProbeResult>;
  /** The emulator and its version, for cache keys and facts. */
  version(): Promise<string>;
  /** Snapshots of booted guests; absent where the backend cannot restore one faster than it boots. */
  readonly snapshots?: { ensure(request: SnapshotRequest): Promise<Snapshot> };
}
