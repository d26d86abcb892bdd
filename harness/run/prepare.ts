// What every run needs before its first cell: the host's programs, the guest image,
// the fixture repositories, the disk of attached repositories, the repository catalog,
// the accelerator for each level (each built or probed once, cached) and the run's guests:
// levelgate's own machine, or a distribution image (run/distribution.ts), whose snapshots
// are made here and whose first boot says what it is.
import { chooseAccel, type AccelChoice } from '../accel/choose.js';
import { type AccelRequest } from '../model/accel.js';
import { probeForRequest } from '../accel/probe.js';
import { collectBuilds, ensureFixtures, type FixtureSet } from '../fixtures/build.js';
import { ensureHostPackages } from '../host/install.js';
import type { DataDisk } from '../model/guest.js';
import { ensureImage, type ImageArtifacts } from '../image/build.js';
import type { LevelName } from '../levels/table.js';
import { EXACT_TARGETS, exactTarget, type CpuTarget } from '../levels/targets.js';
import { attachedReposDisk } from '../repos/attach.js';
import { RepoCatalog, type AttachedRepo } from '../repos/catalog.js';
import { attachedRepoWarmUp, fixtureRepoWarmUp } from '../repos/warm-up.js';
import type { Scenario } from '../scenario/types.js';
import { silentLog, type Log } from '../util/log.js';
import { BACKENDS, type BackendTable } from '../accel/backends.js';
import { Placer } from '../accel/placement.js';
import type { GivenLimits } from '../model/limits.js';
import type { PackageDriver } from '../drivers/driver.js';
import type { DriverName } from '../model/package-manager.js';
import type { CloudImage, ImageFacts } from '../image/cloud/inspect.js';
import type { ImageInfo } from './cell.js';
import { describeImage, imageMachine, readImage, type ImageRequest } from './distribution.js';
import { BackendGuests, type CellGuests, type PreparedTarget } from './session.js';

/** Where a run's cells get their guests, made ready (snapshots) before the first cell. */
export interface PreparedGuests extends CellGuests {
  /** Makes the snapshots of these CPU targets; returns the targets the guest cannot run on, with the reason. */
  prepare(targets: readonly PreparedTarget[]): Promise<Map<string, string>>;
}

export interface Prepared {
  readonly artifacts: ImageArtifacts;
  readonly image: ImageInfo;
  /** Absent when no scenario of the run has fixture repositories (a project with only its own repositories). */
  readonly fixtures?: FixtureSet;
  readonly catalog: RepoCatalog;
  readonly dataDisks: readonly DataDisk[];
  readonly guests: PreparedGuests;
  /** The accelerator for a CPU target by name ("v3", "v3-fma"); every exact level and the near misses asked for. */
  readonly accel: (target: string) => AccelChoice;
  /** Those choices placed: each target's backend (of the run's table) and its limits as numbers. */
  readonly placement: Placer;
  /** A distribution image's drivers (its own $releasever); absent: the default guest's. */
  readonly drivers?: Readonly<Record<DriverName, PackageDriver>>;
  /** Why a driver cannot run in the run's guests (a distribution image without its tool). */
  readonly driverUnavailable?: (driver: DriverName) => string | undefined;
  /** A distribution image's file and what its first boot found. */
  readonly distribution?: { readonly image: CloudImage; readonly facts: ImageFacts };
}

export interface PrepareOptions {
  readonly log?: Log;
  readonly signal?: AbortSignal;
  /** Restore cells from snapshots of booted guests (default); false boots every cell cold. */
  readonly snapshots?: boolean;
  /** Repositories attached to every guest. */
  readonly attached?: readonly AttachedRepo[];
  /** Near-miss CPUs the run uses, probed besides the exact levels. */
  readonly targets?: readonly CpuTarget[];
  /** The backend table guests come from (default: the host's emulators). Probes stay the host's. */
  readonly backends?: BackendTable;
  /** How much slower than idle the host is, for every limit of the run (model/limits.ts hostStretch; default 1). */
  readonly stretch?: number;
  /** Limits the user gave (flags, config), used as given. */
  readonly given?: GivenLimits;
  /**
   * The machine: a distribution image instead of levelgate's own guest, and the run's
   * exact levels, whose snapshots are made here (the first one's boot reads what the image is).
   */
  readonly image?: { readonly request: ImageRequest; readonly levels: readonly LevelName[] };
}

/** A CPU target to make the snapshot of before the first cell, with its placement's accelerator and boot limit. */
export function preparedTarget(target: CpuTarget, placement: Placer): PreparedTarget {
  const placed = placement.at(target.name);
  return placed.accel === null ? { target, accel: null } : { target, accel: placed.accel, bootMs: placement.snapshotBootMs(placed.accel) };
}

/** `scenarios`: those whose fixture repositories the run needs built. */
export async function prepareRun(scenarios: readonly Scenario[], request: AccelRequest, options: PrepareOptions = {}): Promise<Prepared> {
  const log = options.log ?? silentLog;
  const signal = options.signal ? { signal: options.signal } : {};
  const cloudImage = options.image ? await readImage(options.image.request, log) : undefined;
  await ensureHostPackages(['guests', 'image', 'bochs'], log);
  const image = await ensureImage({ log, ...signal });
  const fixtures = collectBuilds(scenarios).length > 0 ? await ensureFixtures(scenarios, image, { log, ...signal }) : undefined;
  const attached = options.attached ?? [];
  const reposDisk = await attachedReposDisk(attached, { log, ...signal });
  const targets = [...new Map([...EXACT_TARGETS, ...(options.targets ?? [])].map((t) => [t.name, t])).values()];
  const probes = await probeForRequest(request, targets, image);
  const choices = new Map(targets.map((t) => [t.name, chooseAccel(t.name, request, probes)]));
  const chosen = (name: string): AccelChoice => choices.get(name) ?? { target: name, accel: null, skipReason: `${name} was not probed: the run did not plan it` };
  const machine = cloudImage ? await imageMachine(cloudImage, { log, ...signal }) : undefined;
  const accel = machine ? (name: string) => machine.choose(chosen(name)) : chosen;
  const backends = machine?.backends ?? options.backends ?? BACKENDS;
  const dataDisks: DataDisk[] = [...(fixtures ? [{ name: 'fixtures', path: fixtures.disk }] : []), ...(reposDisk ? [reposDisk] : [])];
  const catalog = new RepoCatalog(fixtures?.reposDir, attached);
  const cacheWarmUp = options.snapshots === false ? [] : await fixtureRepoWarmUp(scenarios, catalog);
  const guests = new BackendGuests({ image, dataDisks, snapshots: options.snapshots ?? true, warmUp: attachedRepoWarmUp(attached), cacheWarmUp, backends, log, ...signal });
  const placement = new Placer({ choose: accel, backends, stretch: options.stretch ?? 1, ...(options.given ? { given: options.given } : {}) });
  const prepared: Prepared = {
    artifacts: image,
    image: { digest: image.digest, kernel: image.manifest.kernel.release, packages: image.manifest.packages },
    ...(fixtures ? { fixtures } : {}),
    catalog,
    dataDisks,
    guests,
    accel,
    placement,
  };
  if (!cloudImage) return prepared;
  // The image's snapshots first (two boots at a time); the first one's boot also read what the image is.
  const levels = options.image!.levels;
  await guests.prepare(levels.map((level) => preparedTarget(exactTarget(level), placement)));
  return { ...prepared, ...(await describeImage(cloudImage, guests, levels.map((level) => ({ level, accel: accel(level).accel })), log)) };
}
