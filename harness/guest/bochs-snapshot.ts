// Snapshots of booted, proven Bochs guests: per image, level, CPU model, memory, Bochs
// build and attached data set, a guest is booted and proven once, then Bochs saves it
// (its RAM, devices and redologs) into the cache. Every cell then restores it in about
// a second and a half instead of a 14-20 s boot, on a root journal of its own that
// starts as the saved one. The snapshot lives under a key of everything it depends on;
// one that is damaged or does not fit is rebuilt, never used.
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULTS } from '../model/defaults.js';
import { limitsNow } from '../model/limits.js';
import type { GuestCommand } from '../model/guest.js';
import { debianPackageVersion } from '../host/tools.js';
import type { ImageArtifacts } from '../image/build.js';
import { exists } from '../host/cache.js';
import { bochsCpuModel } from '../levels/bochs-cpu.js';
import { proofCodeDigest } from '../levels/proof-code.js';
import type { DetectorReading } from '../drivers/detectors.js';
import type { LevelName } from '../levels/table.js';
import { silentLog } from '../util/log.js';
import { buildBochsrc, ROOT_DISK_MODEL, type BochsMachineSpec } from './bochs-config.js';
import { BOCHS_MEMORY_MIB, bochsKernelArgs, BochsGuest } from './bochs-guest.js';
import { BOCHS_ROM, BOCHS_VGA_ROM, bochsEngine, type BochsProgram } from './bochs-engine.js';
import { SAVED_CONFIG, SAVED_ROOT_JOURNAL, type BochsSnapshotFiles } from './bochs-restore.js';
import type { DataDisk } from '../model/guest.js';
import { readSavedGuest, recordGuestBeforeSave, type EnsureSnapshotOptions } from './snapshot-save.js';
import { dataDiskInputs, ensureSnapshot, sha256, snapshotKeyOf, type Stored } from './snapshot-store.js';

/** What a snapshot depends on. */
export interface BochsSnapshotSpec {
  readonly image: ImageArtifacts;
  readonly level: LevelName;
  readonly dataDisks: readonly DataDisk[];
  readonly memoryMiB?: number;
  /** Commands run after the proof and before saving (page cache, package-manager caches). */
  readonly warmUp?: readonly GuestCommand[];
  /** Default: the engine of this process (bochs-engine.ts). */
  readonly bochs?: BochsProgram;
}

export interface BochsSnapshot extends BochsSnapshotFiles, Stored<BochsSnapshotSaved> {
  /** The console of the boot the snapshot was made from (evidence of its proof). */
  readonly bootConsole: string;
  /** The rpm database of the saved guest, read when it was saved. */
  readonly installed: readonly string[];
  /** Every level detector's answer in the saved guest. */
  readonly detectors: readonly DetectorReading[];
}

/** What a Bochs snapshot's manifest adds to the store's: timings and the machine a restore rebuilds. */
export interface BochsSnapshotSaved {
  readonly bootMs: number;
  readonly saveMs: number;
  readonly cpuModel: string;
  readonly memoryMiB: number;
  readonly dataDisks: readonly DataDisk[];
}

/** A file's identity where Bochs checks it (a redolog remembers its base image's mtime). */
interface FileFacts {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface BochsSnapshotInputs {
  readonly layout: number;
  readonly image: string;
  readonly level: LevelName;
  readonly cpuModel: string;
  readonly memoryMiB: number;
  /** The Bochs build (the lean one's key, or the distro package's version), bochsbios and vgabios package versions: a state saved by one build is never restored by another. */
  readonly emulator: string;
  readonly kernelArgs: readonly string[];
  /** The bochsrc of the saved boot, with the guest's own paths left out. */
  readonly bochsrcSha256: string;
  readonly bootDisk: FileFacts;
  readonly rootDisk: FileFacts;
  readonly dataDisks: readonly (FileFacts & { readonly name: string })[];
  readonly warmUp: readonly GuestCommand[];
  /** The digest of the proof, canary judgement and detector code (proof-code.ts). */
  readonly proofCode: string;
}

const FILES = { state: 'state', bootInfo: 'boot-info.bin', console: 'console.log' } as const;
/** The saved RAM: too large to hash on every load; its size is checked. */
const RAM = 'memory.ram';
/** Bump when the way a snapshot is made changes (what the warm-up does, the file layout, the save). */
const LAYOUT = 2;

/** The bochsrc of a snapshot's boot with placeholder paths: what of it shapes the saved guest. */
export function canonicalBochsrc(spec: Pick<BochsMachineSpec, 'cpuModel' | 'memoryMiB'> & { readonly bootDiskBytes: number; readonly rootDiskBytes: number; readonly dataDisks: readonly { readonly name: string; readonly size: number }[] }): string {
  return buildBochsrc({
    cpuModel: spec.cpuModel,
    memoryMiB: spec.memoryMiB,
    romImage: BOCHS_ROM,
    vgaRomImage: BOCHS_VGA_ROM,
    bootDisk: { path: 'BOOT', bytes: spec.bootDiskBytes, journal: 'BOOT-JOURNAL', mode: 'volatile', model: 'levelgate-boot' },
    rootDisk: { path: 'ROOT', bytes: spec.rootDiskBytes, journal: 'ROOT-JOURNAL', mode: 'undoable', model: ROOT_DISK_MODEL },
    dataDisks: spec.dataDisks.map((d, i) => ({ path: `DATA-${i}`, bytes: d.size, journal: `DATA-JOURNAL-${i}`, mode: 'volatile', model: `lg-${d.name}` })),
    bootInfo: 'BOOT-INFO',
    logFile: 'LOG',
    shell: true,
  });
}

async function fileFacts(file: string): Promise<FileFacts> {
  const s = await stat(file);
  return { path: file, size: s.size, mtimeMs: Math.round(s.mtimeMs) };
}

/** Gathers the inputs of a snapshot from the image, the Bochs build and BIOS packages and the data disks. */
export async function bochsSnapshotInputs(spec: BochsSnapshotSpec): Promise<BochsSnapshotInputs> {
  const cpuModel = bochsCpuModel(spec.level);
  const memoryMiB = spec.memoryMiB ?? BOCHS_MEMORY_MIB;
  const bochs = spec.bochs ?? (await bochsEngine()).program;
  const versions = [`bochs ${bochs.name} ${bochs.version}`, ...(await Promise.all(['bochsbios', 'vgabios'].map(async (p) => `${p} ${(await debianPackageVersion(p)) ?? 'not installed'}`)))];
  const bootDisk = await fileFacts(spec.image.bochsBootDisk);
  const rootDisk = await fileFacts(spec.image.rootDisk);
  const dataDisks = await dataDiskInputs(spec.dataDisks);
  return {
    layout: LAYOUT,
    image: spec.image.digest,
    level: spec.level,
    cpuModel,
    memoryMiB,
    emulator: versions.join(', '),
    kernelArgs: bochsKernelArgs(),
    bochsrcSha256: sha256(canonicalBochsrc({ cpuModel, memoryMiB, bootDiskBytes: bootDisk.size, rootDiskBytes: rootDisk.size, dataDisks })),
    bootDisk,
    rootDisk,
    dataDisks,
    warmUp: spec.warmUp ?? [],
    proofCode: await proofCodeDigest(),
  };
}

export type EnsureBochsSnapshotOptions = EnsureSnapshotOptions;

/** The snapshot for `spec`, made once (boot, proof, warm-up, save) and cached. */
export async function ensureBochsSnapshot(spec: BochsSnapshotSpec, options: EnsureBochsSnapshotOptions = {}): Promise<BochsSnapshot> {
  const log = options.log ?? silentLog;
  const inputs = await bochsSnapshotInputs(spec);
  return ensureSnapshot<Omit<BochsSnapshot, keyof Stored<object>>, BochsSnapshotSaved>(
    {
      folder: 'snapshots',
      inputs,
      what: `the ${spec.level} Bochs snapshot`,
      // Every file Bochs saved (devices, CPU, config, redologs); all but the RAM (too large to hash on every load) hashed.
      recorded: 'all',
      hashed: (file) => path.basename(file) !== RAM,
      save: async (staging) => {
        const file = (name: string) => path.join(staging, name);
        const started = performance.now();
        const guest = await BochsGuest.bootForSnapshot(
          {
            image: spec.image,
            level: spec.level,
            dataDisks: spec.dataDisks,
            consoleLog: file(FILES.console),
            memoryMiB: inputs.memoryMiB,
            ...(spec.bochs ? { bochs: spec.bochs } : {}),
            ...(options.bootTimeoutMs ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          },
          file(FILES.bootInfo),
        );
        let saveMs = 0;
        try {
          await recordGuestBeforeSave(guest, spec.warmUp ?? [], staging, limitsNow(DEFAULTS.backends.bochs).commandMs);
          await mkdir(file(FILES.state));
          saveMs = await guest.saveSnapshot(file(FILES.state));
        } finally {
          await guest.dispose();
        }
        // What a restore reads must be there: the config, the RAM at full size, the root redolog.
        const state = (name: string) => path.join(file(FILES.state), name);
        for (const name of [SAVED_CONFIG, SAVED_ROOT_JOURNAL]) {
          if (!(await exists(state(name)))) throw new Error(`Bochs saved no ${name} into ${file(FILES.state)}: the save is incomplete`);
        }
        const ramBytes = (await stat(state(RAM))).size;
        if (ramBytes !== inputs.memoryMiB * 2 ** 20) throw new Error(`Bochs saved ${ramBytes} bytes of RAM, not ${inputs.memoryMiB} MiB: the save is incomplete`);
        log(`snapshot ${snapshotKeyOf(inputs)}: ${spec.level} Bochs guest booted, proven and saved in ${((performance.now() - started) / 1000).toFixed(1)} s (save ${saveMs} ms)`);
        return { bootMs: Math.round(performance.now() - started - saveMs), saveMs, cpuModel: guest.spec.cpuModel, memoryMiB: inputs.memoryMiB, dataDisks: spec.dataDisks };
      },
      read: async (dir, manifest) => {
        const file = (name: string) => path.join(dir, name);
        return { state: file(FILES.state), bootInfo: file(FILES.bootInfo), bootConsole: file(FILES.console), ...(await readSavedGuest(dir)), cpuModel: manifest.cpuModel, memoryMiB: manifest.memoryMiB, dataDisks: manifest.dataDisks };
      },
    },
    options,
  );
}
