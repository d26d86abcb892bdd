// What every run needs before its first cell: the guest image, the fixture
// repositories and the accelerator for each level (each built or probed once, cached).
import { chooseAccel, type AccelChoice, type AccelRequest } from '../accel/choose.js';
import { probeForRequest } from '../accel/probe.js';
import { ensureFixtures, type FixtureSet } from '../fixtures/build.js';
import { ensureImage, type ImageArtifacts } from '../image/build.js';
import { LEVEL_NAMES, type LevelName } from '../levels/table.js';
import type { Scenario } from '../scenario/types.js';
import { silentLog, type Log } from '../util/log.js';

export interface Prepared {
  readonly image: ImageArtifacts;
  readonly fixtures: FixtureSet;
  readonly accel: (level: LevelName) => AccelChoice;
}

export async function prepareRun(catalog: readonly Scenario[], request: AccelRequest, options: { log?: Log; signal?: AbortSignal } = {}): Promise<Prepared> {
  const log = options.log ?? silentLog;
  const signal = options.signal ? { signal: options.signal } : {};
  const image = await ensureImage({ log, ...signal });
  const fixtures = await ensureFixtures(catalog, image, { log, ...signal });
  const probes = await probeForRequest(request, LEVEL_NAMES, image);
  const choices = new Map(LEVEL_NAMES.map((l) => [l, chooseAccel(l, request, probes)]));
  return { image, fixtures, accel: (level) => choices.get(level)! };
}
