// A distribution image (--image) as the machine of a run, the parts prepareRun takes from
// it: the image read (format, digest, firmware), its backend table (levelgate's tools disk
// and seed, QEMU only), and, once a level booted it, what it is: its drivers ($releasever
// from its os-release), the drivers it lacks (their cells are skips) and the facts every
// cell records.
import type { AccelChoice } from '../accel/choose.js';
import { imageAccelChoice, imageBackends } from '../accel/image-backend.js';
import type { BackendTable } from '../accel/backends.js';
import type { Accel } from '../model/accel.js';
import { driversFor } from '../drivers/index.js';
import type { PackageDriver } from '../drivers/driver.js';
import { ensureHostPackages, ensurePackageFile } from '../host/install.js';
import { OVMF_CODE } from '../guest/distribution-machine.js';
import { inspectImageFile, releaseverOf, versionOf, type CloudImage, type ImageFacts } from '../image/cloud/inspect.js';
import { ensureCloudSupport } from '../image/cloud/support.js';
import type { LevelName } from '../levels/table.js';
import { DRIVER_NAMES, type DriverName } from '../model/package-manager.js';
import { GuestError, InfrastructureError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import type { ImageInfo } from './cell.js';
import type { BackendGuests } from './session.js';

export interface ImageRequest {
  readonly path: string;
  /** What reports call it (default: the file's name without its extension). */
  readonly name?: string;
  /** Where the request came from, for messages (--image, images.NAME). */
  readonly where?: string;
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

/** The image file read (its firmware's package installed): before anything else of the run, so a bad file fails first. */
export async function readImage(request: ImageRequest, log: Log): Promise<CloudImage> {
  await ensureHostPackages(['cloud'], log);
  const image = await inspectImageFile(request.path, request.where ?? '--image', request.name);
  log(`image ${image.name}: ${image.format}, ${(image.virtualSize / 2 ** 30).toFixed(1)} GiB, sha256 ${image.sha256.slice(0, 16)}…, ${image.table.kind} partition table (${image.table.partitions.join(', ')}): boots through ${image.firmware === 'bios' ? 'SeaBIOS' : 'UEFI (OVMF)'}`);
  if (image.firmware === 'uefi') await ensurePackageFile(OVMF_CODE, 'ovmf', log);
  return image;
}

/** The image as a machine kind: its backend table (with levelgate's tools disk and seed) and the probes' choices it can take (QEMU's). */
export async function imageMachine(image: CloudImage, options: { log: Log; signal?: AbortSignal }): Promise<{ backends: BackendTable; choose: (choice: AccelChoice) => AccelChoice }> {
  const support = await ensureCloudSupport(options);
  return { backends: imageBackends(image, support), choose: (choice) => imageAccelChoice(choice, image) };
}

/** What a run on the image knows once its first level booted: the image's facts, drivers and those it lacks. */
export interface DistributionRun {
  readonly image: ImageInfo;
  readonly drivers: Readonly<Record<DriverName, PackageDriver>>;
  readonly driverUnavailable: (driver: DriverName) => string | undefined;
  readonly distribution: { readonly image: CloudImage; readonly facts: ImageFacts };
}

/** `levels`: the run's, whose snapshots are made; the first one's boot read what the image is. */
export async function describeImage(image: CloudImage, guests: BackendGuests, levels: readonly { level: LevelName; accel: Accel | null }[], log: Log): Promise<DistributionRun> {
  const facts = await imageFactsOf(guests, levels, image);
  const unavailable = driverUnavailableIn(image, facts);
  if (DRIVER_NAMES.every((d) => unavailable(d))) {
    throw new InfrastructureError(`image ${image.name} (${facts.os}) has no package manager levelgate can drive: looked for rpm, dnf5 and zypper and found none`, {
      hint: `\`levelgate doctor --image ${image.path}\` lists what the image has`,
    });
  }
  log(`image ${image.name}: ${facts.os}, kernel ${facts.kernel}, glibc ${facts.glibc}; ${(['rpm', 'dnf5', 'zypper'] as const).map((t) => `${t} ${versionOf(facts.tools[t]) ?? 'missing'}`).join(', ')}; commands through ${facts.channel}`);
  return { image: imageInfoOf(image, facts), drivers: driversFor({ releasever: releaseverOf(facts) }), driverUnavailable: unavailable, distribution: { image, facts } };
}
