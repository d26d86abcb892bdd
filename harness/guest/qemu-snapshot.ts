// Snapshots of booted, proven QEMU guests: per image, level, accelerator, emulator and
// attached data set, a guest is booted and proven once, then saved (its RAM lives in a
// file QEMU maps; only the device state is written on save). Every cell then restores
// it in a fraction of a second: the RAM mapped copy-on-write, the disk an overlay of
// its own on the snapshot's frozen disk. The snapshot lives in the cache under a key of
// everything it depends on; one that is damaged or does not fit is rebuilt, never used.
import type { GuestCommand } from '../model/guest.js';
import { createHash } from 'node:crypto';
import { chmod, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { ImageArtifacts } from '../image/build.js';
import { cacheRoot, ensureCached, exists, writeJson } from '../host/cache.js';
import type { LevelProof } from '../levels/proof.js';
import type { LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import type { DetectorReading } from '../drivers/detectors.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import { proofCodeDigest } from '../levels/proof-code.js';
import { DEFAULTS } from '../model/defaults.js';
import { silentLog } from '../util/log.js';
import { KERNEL_ARGS } from './kernel-args.js';
import type { DataDisk } from '../model/guest.js';
import type { QemuAccel } from '../model/accel.js';
import { createOverlay, QemuGuest, type QemuSnapshotFiles } from './qemu-guest.js';
import { emulatorIdentity, hostQemu, type Emulator } from './emulator.js';
import { readSavedGuestFacts, recordGuestBeforeSave, type EnsureSnapshotOptions } from './snapshot-save.js';

/** What a snapshot depends on. */
export interface QemuSnapshotSpec {
  readonly image: ImageArtifacts;
  readonly level: LevelName;
  /** A near miss of a level, pinned instead of the exact level. */
  readonly target?: CpuTarget;
  readonly accel: QemuAccel;
  readonly dataDisks: readonly DataDisk[];
  readonly memoryMiB?: number;
  /** Which QEMU (default: the host's); part of the key. */
  readonly emulator?: Emulator;
  /** Commands run after the proof and before saving (page cache, package-manager caches). */
  readonly warmUp?: readonly GuestCommand[];
}

export interface QemuSnapshot extends QemuSnapshotFiles {
  /** The rpm database of the saved guest (NAME-[EPOCH:]VERSION-RELEASE.ARCH), read when it was saved. */
  readonly installed: readonly string[];
  /** Every level detector's answer in the saved guest. */
  readonly detectors: readonly DetectorReading[];
  readonly key: string;
  readonly dir: string;
  /** The console of the boot the snapshot was made from (evidence of its proof). */
  readonly bootConsole: string;
  readonly manifest: SnapshotManifest;
}

interface SnapshotManifest {
  readonly key: string;
  readonly inputs: Record<string, unknown>;
  readonly createdAt: string;
  readonly bootMs: number;
  readonly saveMs: number;
  readonly sizes: Readonly<Record<string, number>>;
  readonly stateSha256: string;
}

const FILES = { ram: 'ram', state: 'state', disk: 'disk.qcow2', proof: 'proof.json', installed: 'installed.json', detectors: 'detectors.json', manifest: 'manifest.json', console: 'console.log' } as const;
/** Bump when the way a snapshot is made changes (what the warm-up does, the file layout). */
const LAYOUT = 4;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** The key: every input that shapes the saved guest, so that any change makes a new snapshot. */
export async function snapshotKey(spec: QemuSnapshotSpec): Promise<{ key: string; inputs: Record<string, unknown> }> {
  const emulator = spec.emulator ?? (await hostQemu());
  const disks = await Promise.all(
    spec.dataDisks.map(async (d) => {
      const s = await stat(d.path);
      return { name: d.name, path: d.path, size: s.size, mtimeMs: Math.round(s.mtimeMs) };
    }),
  );
  const inputs = {
    layout: LAYOUT,
    image: spec.image.digest,
    level: spec.level,
    target: spec.target?.name ?? spec.level,
    accel: spec.accel,
    cpu: qemuCpuArgument(spec.target ?? spec.level),
    memoryMiB: spec.memoryMiB ?? DEFAULTS.memoryMiB,
    emulator: emulatorIdentity(emulator),
    kernelArgs: [...KERNEL_ARGS, ...(spec.target?.kernelArgs ?? [])],
    dataDisks: disks,
    warmUp: spec.warmUp ?? [],
    // The proof, canary judgement and detector code: a fix there must not leave old proofs in force.
    proofCode: await proofCodeDigest(),
  };
  return { key: sha256(JSON.stringify(inputs)).slice(0, 16), inputs };
}

/** Reads a published snapshot; undefined when it is missing, damaged or made for other inputs. */
async function load(dir: string, key: string): Promise<QemuSnapshot | undefined> {
  const file = (name: string) => path.join(dir, name);
  try {
    const manifest = JSON.parse(await readFile(file(FILES.manifest), 'utf8')) as SnapshotManifest;
    if (manifest.key !== key) return undefined;
    for (const [name, size] of Object.entries(manifest.sizes)) if ((await stat(file(name))).size !== size) return undefined;
    if (sha256(await readFile(file(FILES.state))) !== manifest.stateSha256) return undefined;
    const proof = JSON.parse(await readFile(file(FILES.proof), 'utf8')) as LevelProof;
    const { installed, detectors } = await readSavedGuestFacts({ installed: file(FILES.installed), detectors: file(FILES.detectors) });
    return { key, dir, ram: file(FILES.ram), state: file(FILES.state), disk: file(FILES.disk), bootConsole: file(FILES.console), proof, installed, detectors, manifest };
  } catch {
    return undefined;
  }
}

export type { EnsureSnapshotOptions } from './snapshot-save.js';

/** The snapshot for `spec`, made once (boot, proof, warm-up, save) and cached. */
export async function ensureQemuSnapshot(spec: QemuSnapshotSpec, options: EnsureSnapshotOptions = {}): Promise<QemuSnapshot> {
  const log = options.log ?? silentLog;
  const { key, inputs } = await snapshotKey(spec);
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'snapshots', key);
  return ensureCached({
    dir,
    what: `the ${spec.target?.name ?? spec.level} snapshot ${key}`,
    load: () => load(dir, key),
    ...(options.signal ? { signal: options.signal } : {}),
    log,
    ...(options.rebuild ? { rebuild: true } : {}),
    build: async (staging) => {
      const file = (name: string) => path.join(staging, name);
      const started = performance.now();
      await createOverlay(spec.image.rootDisk, file(FILES.disk), options.signal);
      const guest = await QemuGuest.bootForSnapshot(
        {
          image: spec.image,
          level: spec.level,
          ...(spec.target ? { target: spec.target } : {}),
          accel: spec.accel,
          dataDisks: spec.dataDisks,
          disk: file(FILES.disk),
          consoleLog: file(FILES.console),
          ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}),
          ...(spec.emulator ? { emulator: spec.emulator } : {}),
          ...(options.bootTimeoutMs ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
        file(FILES.ram),
      );
      let saveMs = 0;
      try {
        await recordGuestBeforeSave(guest, spec.warmUp ?? [], { proof: file(FILES.proof), installed: file(FILES.installed), detectors: file(FILES.detectors) }, DEFAULTS.commandTimeoutMs);
        const saving = performance.now();
        await guest.saveSnapshot(file(FILES.state));
        saveMs = Math.round(performance.now() - saving);
      } finally {
        await guest.dispose();
      }
      // The overlay holds the disk as the saved guest left it: checked, then frozen.
      const check = await execa('qemu-img', ['check', '-q', file(FILES.disk)], { reject: false, all: true });
      if (check.failed) throw new Error(`the snapshot's disk does not check out: ${check.all ?? check.shortMessage}`);
      const sizes: Record<string, number> = {};
      for (const name of [FILES.ram, FILES.state, FILES.disk, FILES.proof, FILES.installed, FILES.detectors]) sizes[name] = (await stat(file(name))).size;
      const manifest: SnapshotManifest = {
        key,
        inputs,
        createdAt: new Date().toISOString(),
        bootMs: Math.round(performance.now() - started - saveMs),
        saveMs,
        sizes,
        stateSha256: sha256(await readFile(file(FILES.state))),
      };
      await writeJson(file(FILES.manifest), manifest);
      for (const name of [FILES.ram, FILES.state, FILES.disk]) await chmod(file(name), 0o444);
      log(`snapshot ${key}: ${spec.target?.name ?? spec.level} guest (${spec.accel}) booted, proven and saved in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    },
  });
}

/** Removes a snapshot a restore showed to be unusable, so the next ensure rebuilds it. */
export async function discardQemuSnapshot(snapshot: QemuSnapshot): Promise<void> {
  if (await exists(snapshot.dir)) await rm(snapshot.dir, { recursive: true, force: true });
}
