// Where a compose audit gets its guests: the one place it touches the guest machinery.
// Per level, a guest restored from that level's snapshot, whose warm-up loaded the
// compose repositories into both package managers' caches before it was saved (the
// snapshot's key includes the repositories' disk); the accelerator each level runs
// under is chosen from the probes as gate chooses it.
import { rm } from 'node:fs/promises';
import { dir } from 'tmp-promise';
import { chooseAccel } from '../accel/choose.js';
import { type Accel } from '../model/accel.js';
import type { GuestLimits } from '../model/limits.js';
import { probeForRequest } from '../accel/probe.js';
import type { ImageArtifacts } from '../image/build.js';
import { exactTarget } from '../levels/targets.js';
import type { LevelName } from '../levels/table.js';
import type { AttachedRepo } from '../repos/catalog.js';
import { attachedReposDisk } from '../repos/attach.js';
import { attachedRepoWarmUp } from '../repos/warm-up.js';
import type { CellGuest, GuestCommand } from '../model/guest.js';
import { BackendGuests, type CellSession, type GuestFactsRecord } from '../run/session.js';
import { BACKENDS } from '../accel/backends.js';
import { Placer } from '../accel/placement.js';
import type { ProofRecord } from '../results/types.js';
import { DEFAULTS } from '../model/defaults.js';
import { InfrastructureError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import type { GuestRunner } from './run-checks.js';

export interface ComposeGuest {
  /** The running guest (after moveTo, the guest at the new level). */
  readonly guest: CellGuest;
  /** Powers the guest off and boots the same disk at `level` (a disk moved to another CPU). */
  moveTo(level: LevelName): Promise<CellGuest>;
  readonly accel: Accel;
  /** The limits of this guest's backend at the compose's stretch (a command under Bochs gets its slowdown). */
  readonly limits: GuestLimits;
  readonly facts: GuestFactsRecord | undefined;
  readonly proofs: readonly ProofRecord[];
  readonly consoleLogs: readonly string[];
  readonly bootMs: number;
  dispose(): Promise<void>;
}

/** What a compose guest's steps run with: its guest now and its backend's limits. */
export const composeRunner = (guest: ComposeGuest): GuestRunner => ({ guest: guest.guest, commandMs: guest.limits.commandMs, programMs: guest.limits.programMs });

export interface ComposeGuestSource {
  /** A guest at `level` with the compose repositories' caches warm (from the snapshot). */
  open(level: LevelName, evidenceDir: string): Promise<ComposeGuest>;
}

export interface ComposeGuestOptions {
  readonly image: ImageArtifacts;
  readonly repos: readonly AttachedRepo[];
  readonly levels: readonly LevelName[];
  /** Each guest's memory (compose/memory.ts sizes it from the metadata). */
  readonly memoryMiB?: number;
  /** Run after the repositories are loaded, before the snapshot is saved (a release-N system: compose/populate.ts); part of the snapshot's key. */
  readonly populate?: readonly GuestCommand[];
  readonly log?: Log;
  readonly signal?: AbortSignal;
}

export async function composeGuests(options: ComposeGuestOptions): Promise<ComposeGuestSource> {
  const { image, repos, log, signal } = options;
  const disk = await attachedReposDisk(repos, { ...(log ? { log } : {}), ...(signal ? { signal } : {}) });
  const targets = options.levels.map(exactTarget);
  const probes = await probeForRequest('auto', targets, image);
  const placer = new Placer({ choose: (level) => chooseAccel(level, 'auto', probes), backends: BACKENDS, stretch: DEFAULTS.composeStretch });
  const placedAt = (level: LevelName) => {
    const placed = placer.at(level);
    if (placed.accel === null) throw new InfrastructureError(`no emulator provides ${level} here: ${placed.skipReason}`);
    return placed;
  };
  const accelOf = (level: LevelName): Accel => placedAt(level).accel;
  const guests = new BackendGuests({ image, dataDisks: disk ? [disk] : [], snapshots: true, warmUp: [...attachedRepoWarmUp(repos), ...(options.populate ?? [])], ...(options.memoryMiB ? { memoryMiB: options.memoryMiB } : {}), ...(log ? { log } : {}), ...(signal ? { signal } : {}) });
  return {
    async open(level, evidenceDir) {
      const { accel, limits } = placedAt(level);
      const scratch = (await dir({ prefix: `levelgate-compose-${level}` })).path;
      let session: CellSession | undefined;
      try {
        session = await guests.open({
          firstAccel: accel,
          target: exactTarget(level),
          accelAt: accelOf,
          // The snapshot's warm-up loads the compose's metadata into both tools, and guests share 2 cores: DEFAULTS.composeStretch.
          bootMs: placer.bootMs(),
          evidenceDir,
          scratch,
          ...(signal ? { signal } : {}),
        });
        let guest = await session.start(level);
        const opened = session;
        return {
          get guest() {
            return guest;
          },
          async moveTo(to: LevelName) {
            guest = await opened.bootAt(to);
            return guest;
          },
          accel,
          limits,
          get facts() {
            return opened.facts;
          },
          get proofs() {
            return opened.proofs;
          },
          get consoleLogs() {
            return opened.consoleLogs;
          },
          get bootMs() {
            return opened.bootMs;
          },
          async dispose() {
            try {
              await opened.dispose();
            } finally {
              await rm(scratch, { recursive: true, force: true });
            }
          },
        };
      } catch (error) {
        await session?.dispose().catch(() => {});
        await rm(scratch, { recursive: true, force: true });
        throw error;
      }
    },
  };
}
