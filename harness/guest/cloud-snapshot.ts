// Snapshots of a full-distribution image booted, settled and proven at one level: its
// boot (firmware, GRUB, systemd, cloud-init: over a minute under TCG) is paid once per
// image, level and emulator, then every cell restores it in a fraction of a second (RAM
// mapped copy-on-write, device state loaded, the disk an overlay of the snapshot's). The
// boot also inspects the image (os-release, kernel, glibc, package managers), so the
// facts of every cell come with the snapshot. Cached with ensureCached like the default
// guest's snapshots; one that does not restore is discarded and rebuilt.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULTS } from '../model/defaults.js';
import { parseInstalled, QUERY_INSTALLED } from '../drivers/driver.js';
import { cacheRoot, exists, writeJson } from '../host/cache.js';
import { INSPECT_SCRIPT, parseImageFacts, type CloudImage, type ImageFacts } from '../image/cloud/inspect.js';
import type { CloudSupport } from '../image/cloud/support.js';
import type { LevelProof } from '../levels/proof.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import { proofCodeDigest } from '../levels/proof-code.js';
import type { LevelName } from '../levels/table.js';
import { silentLog } from '../util/log.js';
import { distributionMachine } from './distribution-machine.js';
import type { ChannelKind, QemuSnapshotFiles } from './qemu-machine.js';
import type { DataDisk } from '../model/guest.js';
import type { QemuAccel } from '../model/accel.js';
import { QEMU_BINARY, qemuVersion, type QemuGuest } from './qemu-guest.js';
import { QEMU_SNAPSHOT_FILES, saveQemuGuest } from './qemu-snapshot.js';
import type { EnsureSnapshotOptions } from './snapshot-save.js';
import { dataDiskInputs, ensureSnapshot, snapshotKeyOf, type Stored } from './snapshot-store.js';

export interface CloudSnapshotSpec {
  readonly image: CloudImage;
  readonly support: CloudSupport;
  readonly level: LevelName;
  readonly accel: QemuAccel;
  readonly dataDisks: readonly DataDisk[];
  readonly memoryMiB?: number;
}

export interface CloudSnapshot extends QemuSnapshotFiles, Stored<CloudSnapshotTimes> {
  readonly channel: ChannelKind;
  readonly installed: readonly string[];
  readonly facts: ImageFacts;
  readonly bootConsole: string;
}

/** What an image snapshot's manifest adds to the store's. */
export interface CloudSnapshotTimes {
  /** Spawning QEMU to the channel's first answer, data disks mounted (the level proof follows). */
  readonly bootToReadyMs: number;
  /** The rest of the boot: cloud-init and systemd finishing, before the guest is saved idle. */
  readonly settleMs: number;
  readonly saveMs: number;
  readonly channel: ChannelKind;
}

const FILES = { ...QEMU_SNAPSHOT_FILES, proof: 'proof.json', installed: 'installed.json', facts: 'facts.json', manifest: 'manifest.json', console: 'console.log' } as const;
/** Bump when the way a snapshot is made changes. 2: commands through levelgate-agent, started through qemu-guest-agent. */
const LAYOUT = 2;

/** Waits until the image's own boot is over (cloud-init done, systemd settled), so restored guests start idle. */
export const SETTLE_SCRIPT = 'if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1; fi; if command -v systemctl >/dev/null 2>&1; then systemctl is-system-running --wait >/dev/null 2>&1; fi; sync; true';

export async function cloudSnapshotKey(spec: CloudSnapshotSpec): Promise<{ key: string; inputs: Record<string, unknown> }> {
  const disks = await dataDiskInputs(spec.dataDisks);
  const inputs = {
    layout: LAYOUT,
    image: spec.image.sha256,
    firmware: spec.image.firmware,
    support: spec.support.digest,
    level: spec.level,
    accel: spec.accel,
    cpu: qemuCpuArgument(spec.level),
    memoryMiB: spec.memoryMiB ?? DEFAULTS.memoryMiB,
    emulator: `${QEMU_BINARY} ${await qemuVersion(QEMU_BINARY)}`,
    dataDisks: disks,
    proofCode: await proofCodeDigest(),
  };
  return { key: snapshotKeyOf(inputs), inputs };
}

export type EnsureCloudSnapshotOptions = EnsureSnapshotOptions;

/** The snapshot for `spec`: booted, settled, inspected, proven and saved once, then cached. */
export async function ensureCloudSnapshot(spec: CloudSnapshotSpec, options: EnsureCloudSnapshotOptions = {}): Promise<CloudSnapshot> {
  const { key, inputs } = await cloudSnapshotKey(spec);
  const uefi = spec.image.firmware === 'uefi';
  return ensureSnapshot<Omit<CloudSnapshot, keyof Stored<object>>, CloudSnapshotTimes>(
    {
      // Named by content (the key holds the image's sha256), not by what a run calls the image.
      folder: 'cloud-snapshots',
      inputs,
      what: `the ${spec.level} snapshot of image ${spec.image.name}`,
      disk: FILES.disk,
      recorded: [FILES.ram, FILES.state, FILES.disk, FILES.proof, FILES.installed, FILES.facts, ...(uefi ? [FILES.vars] : [])],
      hashed: (file) => file === FILES.state,
      save: (staging) => saveCloudGuest(spec, staging, key, options),
      read: async (dir, manifest) => {
        const file = (name: string) => path.join(dir, name);
        const read = async <T>(name: string) => JSON.parse(await readFile(file(name), 'utf8')) as T;
        return {
          ram: file(FILES.ram),
          state: file(FILES.state),
          disk: file(FILES.disk),
          ...((await exists(file(FILES.vars))) ? { vars: file(FILES.vars) } : {}),
          proof: await read<LevelProof>(FILES.proof),
          installed: await read<string[]>(FILES.installed),
          facts: await read<ImageFacts>(FILES.facts),
          channel: manifest.channel,
          bootConsole: file(FILES.console),
        };
      },
    },
    options,
  );
}

/** Boots the image, lets it settle, inspects it, proves the level and saves it into `staging`. */
async function saveCloudGuest(spec: CloudSnapshotSpec, staging: string, key: string, options: EnsureCloudSnapshotOptions): Promise<CloudSnapshotTimes> {
  const log = options.log ?? silentLog;
  const started = performance.now();
  log(`image ${spec.image.name}: booting it at ${spec.level} (${spec.accel}) to make its snapshot; a full distribution takes a minute or more under emulation`);
  let recorded: Pick<CloudSnapshotTimes, 'bootToReadyMs' | 'settleMs' | 'channel'> | undefined;
  const saveMs = await saveQemuGuest(
    { staging, console: FILES.console, uefi: spec.image.firmware === 'uefi' },
    { machine: distributionMachine(spec.image, spec.support), level: spec.level, accel: spec.accel, dataDisks: spec.dataDisks, ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}) },
    options,
    async (guest) => {
      recorded = await recordImage(guest, (name) => path.join(staging, name));
    },
  );
  const { bootToReadyMs, settleMs, channel } = recorded!;
  log(`image ${spec.image.name}: ${spec.level} snapshot ${key} made in ${((performance.now() - started) / 1000).toFixed(1)} s (ready after ${(bootToReadyMs / 1000).toFixed(1)} s, settled ${(settleMs / 1000).toFixed(1)} s later; channel ${channel})`);
  return { bootToReadyMs, settleMs, saveMs, channel };
}

/** Lets the booted image settle, then records what its snapshot keeps: the image's facts, the proof, the rpm database. */
async function recordImage(guest: QemuGuest, file: (name: string) => string): Promise<Pick<CloudSnapshotTimes, 'bootToReadyMs' | 'settleMs' | 'channel'>> {
  const { which: channel, banner, notes } = guest.channelFacts;
  const settling = performance.now();
  await guest.exec(['sh', '-c', SETTLE_SCRIPT], { timeoutMs: DEFAULTS.imageSettleTimeoutMs });
  const settleMs = Math.round(performance.now() - settling);
  const inspected = await guest.exec(['sh', '-c', INSPECT_SCRIPT], { timeoutMs: DEFAULTS.commandTimeoutMs });
  const through = notes.find((n) => n.startsWith('started through '));
  const facts = parseImageFacts(
    inspected.stdout,
    channel === 'qga'
      ? `the image's ${banner} (${notes.join('; ') || 'commands through it'})`
      : through
        ? `${banner}, ${through.replace('started through ', "started through the image's ")}`
        : `${banner}, started by cloud-init from the NoCloud seed`,
  );
  await writeJson(file(FILES.facts), facts);
  await writeJson(file(FILES.proof), guest.proof);
  let installed: string[] = [];
  if (facts.tools.rpm) {
    const query = await guest.exec(QUERY_INSTALLED.argv, { timeoutMs: DEFAULTS.commandTimeoutMs });
    if (query.exitCode !== 0) throw new Error(`snapshot: \`${query.command}\` failed: ${query.stderr.trim()}`);
    installed = parseInstalled(query.stdout);
  }
  await writeJson(file(FILES.installed), installed);
  await guest.exec(['sync'], { timeoutMs: DEFAULTS.imageSetupCommandTimeoutMs });
  return { bootToReadyMs: guest.timings.bootToReadyMs, settleMs, channel };
}

/** What an earlier snapshot boot of this image found (any level, any data disks), without booting it again. */
export async function cachedImageFacts(image: CloudImage, cacheDir = cacheRoot()): Promise<ImageFacts | undefined> {
  const root = path.join(cacheDir, 'cloud-snapshots');
  for (const entry of await readdir(root).catch(() => [] as string[])) {
    try {
      const manifest = JSON.parse(await readFile(path.join(root, entry, FILES.manifest), 'utf8')) as { readonly inputs: { readonly image?: string; readonly layout?: number } };
      if (manifest.inputs.image === image.sha256 && manifest.inputs.layout === LAYOUT) return JSON.parse(await readFile(path.join(root, entry, FILES.facts), 'utf8')) as ImageFacts;
    } catch {
      // not a published snapshot
    }
  }
  return undefined;
}
