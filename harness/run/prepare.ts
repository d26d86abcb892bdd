// What every run needs before its first cell: the guest image, the fixture
// repositories, the repository catalog (fixture and attached repositories, their
// metadata) and the accelerator for each level (each built or probed once, cached).
import { chooseAccel, type AccelChoice, type AccelRequest } from '../accel/choose.js';
import { probeForRequest } from '../accel/probe.js';
import { ensureFixtures, type FixtureSet } from '../fixtures/build.js';
import type { DataDisk } from '../guest/qemu-args.js';
import { ensureImage, type ImageArtifacts } from '../image/build.js';
import { LEVEL_NAMES, type LevelName } from '../levels/table.js';
import { RepoCatalog } from '../repos/catalog.js';
import type { ImageInfo } from './cell.js';
import { BackendGuests } from './session.js';
import type { Scenario } from '../scenario/types.js';
import { silentLog, type Log } from '../util/log.js';

export interface Prepared {
  readonly artifacts: ImageArtifacts;
  readonly image: ImageInfo;
  readonly fixtures: FixtureSet;
  readonly catalog: RepoCatalog;
  readonly dataDisks: readonly DataDisk[];
  readonly guests: BackendGuests;
  readonly accel: (level: LevelName) => AccelChoice;
}

export interface PrepareOptions {
  readonly log?: Log;
  readonly signal?: AbortSignal;
  /** Restore cells from snapshots of booted guests (default); false boots every cell cold. */
  readonly snapshots?: boolean;
}

export async function prepareRun(scenarios: readonly Scenario[], request: AccelRequest, options: PrepareOptions = {}): Promise<Prepared> {
  const log = options.log ?? silentLog;
  const signal = options.signal ? { signal: options.signal } : {};
  const image = await ensureImage({ log, ...signal });
  const fixtures = await ensureFixtures(scenarios, image, { log, ...signal });
  const probes = await probeForRequest(request, LEVEL_NAMES, image);
  const choices = new Map(LEVEL_NAMES.map((l) => [l, chooseAccel(l, request, probes)]));
  const dataDisks: DataDisk[] = [{ name: 'fixtures', path: fixtures.disk }];
  return {
    artifacts: image,
    image: { digest: image.digest, kernel: image.manifest.kernel.release, packages: image.manifest.packages },
    fixtures,
    catalog: new RepoCatalog(fixtures.reposDir),
    dataDisks,
    guests: new BackendGuests({ image, dataDisks, snapshots: options.snapshots ?? true, log, ...signal }),
    accel: (level) => choices.get(level)!,
  };
}
