// What a run on a distribution image (--image) needs on top of prepareRun's: the image
// read (format, digest, firmware), levelgate's tools disk and seed, the image's
// snapshots at the run's levels (their boot inspects the image), and from what the
// image is: its drivers ($releasever from its os-release), the drivers it lacks (their
// cells are skips) and the facts every cell records.
import type { AccelRequest } from '../model/accel.js';
import { imageAccelChoice, imageBackends } from '../accel/image-backend.js';
import { Placer } from '../accel/placement.js';
import type { Accel } from '../model/accel.js';
import { driversFor } from '../drivers/index.js';
import { ensureHostPackages, ensurePackageFile } from '../host/install.js';
import { OVMF_CODE } from '../guest/distribution-machine.js';
import { inspectImageFile, releaseverOf, versionOf, type CloudImage, type ImageFacts } from '../image/cloud/inspect.js';
import { ensureCloudSupport } from '../image/cloud/support.js';
import type { LevelName } from '../levels/table.js';
import { exactTarget } from '../levels/targets.js';
import { type Scenario } from '../scenario/types.js';
import { DRIVER_NAMES, type DriverName } from '../model/package-manager.js';
import { GuestError, InfrastructureError } from '../util/errors.js';
import { silentLog } from '../util/log.js';
import type { ImageInfo } from './cell.js';
import { BackendGuests } from './session.js';
import { preparedTarget } from './prepare.js';
import { prepareRun, type PrepareOptions, type Prepared } from './prepare.js';

export interface ImageRequest {
  readonly path: string;
  /** What reports call it (default: the file's name without its extension). */
  readonly name?: string;
  /** Where the request came from, for messages (--image, images.NAME). */
  readonly where?: string;
}

export interface PreparedImage extends Prepared {
  readonly cloudImage: CloudImage;
  readonly imageFacts: ImageFacts;
}

/** The tool each driver runs. */
export const DRIVER_TOOL = { dnf5: 'dnf5', zypper: 'zypper', rpm: 'rpm', apt: 'apt-get', pacman: 'pacman' } as const satisfies Record<DriverName, string>;

export function driverUnavailableIn(image: CloudImage, facts: ImageFacts): (driver: DriverName) => string | undefined {
  return (driver) => {
    const tool = DRIVER_TOOL[driver];
    if (facts.tools[tool]) return undefined;
    const dnf = tool === 'dnf5' && facts.tools.dnf ? ` (it has ${facts.tools.dnf}: dnf 4, whose command line the dnf5 driver does not speak)` : '';
    return `image ${image.name} (${facts.os}) has no ${tool}${dnf}: the ${driver} cells cannot run in it`;
  };
}

export function imageInfoOf(image: CloudImage, facts: ImageFacts): ImageInfo {
  const v = (tool: keyof ImageFacts['tools']) => `${tool} ${versionOf(facts.tools[tool]) ?? 'missing'}`;
  return {
    digest: image.digest,
    kernel: facts.kernel,
    packages: {},
    distribution: {
      name: image.name,
      os: facts.os,
      glibc: facts.glibc,
      packageManagers: { dnf5: `${v('dnf5')}, ${v('rpm')}`, zypper: `${v('zypper')}, ${v('rpm')}`, rpm: v('rpm') },
    },
  };
}

/** What the image is: read in the boot that made the snapshot of the first level that can run it. */
export async function imageFactsOf(guests: BackendGuests, levels: readonly { level: LevelName; accel: Accel | null }[], image: CloudImage): Promise<ImageFacts> {
  const facts = await guests.facts(levels);
  if (!facts) throw new GuestError(`no level of this run can boot image ${image.name} (it runs under QEMU only)`);
  return facts;
}

/** `levels`: the run's levels (their snapshots are made first; the first one's boot inspects the image). */
export async function prepareImageRun(scenarios: readonly Scenario[], request: AccelRequest, image: ImageRequest, levels: readonly LevelName[], options: PrepareOptions = {}): Promise<PreparedImage> {
  const log = options.log ?? silentLog;
  const signal = options.signal ? { signal: options.signal } : {};
  await ensureHostPackages(['cloud'], log);
  const cloudImage = await inspectImageFile(image.path, image.where ?? '--image', image.name);
  log(`image ${cloudImage.name}: ${cloudImage.format}, ${(cloudImage.virtualSize / 2 ** 30).toFixed(1)} GiB, sha256 ${cloudImage.sha256.slice(0, 16)}…, ${cloudImage.table.kind} partition table (${cloudImage.table.partitions.join(', ')}): boots through ${cloudImage.firmware === 'bios' ? 'SeaBIOS' : 'UEFI (OVMF)'}`);
  if (cloudImage.firmware === 'uefi') await ensurePackageFile(OVMF_CODE, 'ovmf', log);
  const base = await prepareRun(scenarios, request, options);
  const support = await ensureCloudSupport({ log, ...signal });
  const backends = imageBackends(cloudImage, support);
  const guests = new BackendGuests({ image: base.artifacts, dataDisks: base.dataDisks, snapshots: options.snapshots ?? true, backends, log, ...signal });
  const accel = (target: string) => imageAccelChoice(base.accel(target), cloudImage);
  const placement = new Placer({ choose: accel, backends, stretch: options.stretch ?? 1, ...(options.given ? { given: options.given } : {}) });
  const runLevels = levels.map((level) => ({ level, accel: accel(level).accel }));
  // The snapshots first (two boots at a time); the first one's boot also read what the image is.
  await guests.prepare(levels.map((level) => preparedTarget(exactTarget(level), placement)));
  const facts = await imageFactsOf(guests, runLevels, cloudImage);
  const unavailable = driverUnavailableIn(cloudImage, facts);
  if (DRIVER_NAMES.every((d) => unavailable(d))) {
    throw new InfrastructureError(`image ${cloudImage.name} (${facts.os}) has no package manager levelgate can drive: looked for rpm, dnf5 and zypper and found none`, {
      hint: `\`levelgate doctor --image ${cloudImage.path}\` lists what the image has`,
    });
  }
  log(`image ${cloudImage.name}: ${facts.os}, kernel ${facts.kernel}, glibc ${facts.glibc}; ${(['rpm', 'dnf5', 'zypper'] as const).map((t) => `${t} ${versionOf(facts.tools[t]) ?? 'missing'}`).join(', ')}; commands through ${facts.channel}`);
  return {
    ...base,
    image: imageInfoOf(cloudImage, facts),
    guests,
    accel,
    placement,
    drivers: driversFor({ releasever: releaseverOf(facts) }),
    driverUnavailable: unavailable,
    cloudImage,
    imageFacts: facts,
  };
}
