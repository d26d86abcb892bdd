// Snapshots of booted, proven QEMU guests: per image, level, accelerator, emulator and
// attached data set, a guest is booted and proven once, then saved (its RAM lives in a
// file QEMU maps; only the device state is written on save). Every cell then restores
// it in a fraction of a second: the RAM mapped copy-on-write, the disk an overlay of
// its own on the snapshot's frozen disk. The snapshot lives in the cache under a key of
// everything it depends on; one that is damaged or does not fit is rebuilt, never used.
import type { GuestCommand } from '../model/guest.js';
import path from 'node:path';
import type { ImageArtifacts } from '../image/build.js';
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
import { createOverlay, QemuGuest, type QemuGuestOptions, type QemuSnapshotFiles } from './qemu-guest.js';
import { levelgateMachine, type QemuMachine } from './qemu-machine.js';
import { emulatorIdentity, hostQemu, type Emulator } from './emulator.js';
import { readSavedGuest, recordGuestBeforeSave, SAVED_GUEST_FILES, type EnsureSnapshotOptions } from './snapshot-save.js';
import { dataDiskInputs, ensureSnapshot, snapshotKeyOf, type Stored } from './snapshot-store.js';

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

export interface QemuSnapshot extends QemuSnapshotFiles, Stored<QemuSnapshotTimes> {
  /** The rpm database of the saved guest (NAME-[EPOCH:]VERSION-RELEASE.ARCH), read when it was saved. */
  readonly installed: readonly string[];
  /** Every level detector's answer in the saved guest. */
  readonly detectors: readonly DetectorReading[];
  /** The console of the boot the snapshot was made from (evidence of its proof). */
  readonly bootConsole: string;
}

/** What a QEMU snapshot's manifest adds to the store's. */
interface QemuSnapshotTimes {
  readonly bootMs: number;
  readonly saveMs: number;
}

/** The files of every QEMU machine's snapshot: RAM, device state, disk, and a UEFI machine's variable store. */
export const QEMU_SNAPSHOT_FILES = { ram: 'ram', state: 'state', disk: 'disk.qcow2', vars: 'vars.fd' } as const;
const FILES = { ...QEMU_SNAPSHOT_FILES, ...SAVED_GUEST_FILES, console: 'console.log' } as const;
/** Bump when the way a snapshot is made changes (what the warm-up does, the file layout). */
const LAYOUT = 4;

/** The key: every input that shapes the saved guest, so that any change makes a new snapshot. */
export async function snapshotKey(spec: QemuSnapshotSpec): Promise<{ key: string; inputs: Record<string, unknown> }> {
  const emulator = spec.emulator ?? (await hostQemu());
  const disks = await dataDiskInputs(spec.dataDisks);
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
  return { key: snapshotKeyOf(inputs), inputs };
}

export type { EnsureSnapshotOptions } from './snapshot-save.js';

/** The snapshot for `spec`, made once (boot, proof, warm-up, save) and cached. */
export async function ensureQemuSnapshot(spec: QemuSnapshotSpec, options: EnsureSnapshotOptions = {}): Promise<QemuSnapshot> {
  const log = options.log ?? silentLog;
  const { inputs } = await snapshotKey(spec);
  const name = spec.target?.name ?? spec.level;
  return ensureSnapshot<Omit<QemuSnapshot, keyof Stored<object>>, QemuSnapshotTimes>(
    {
      folder: 'snapshots',
      inputs,
      what: `the ${name} snapshot`,
      disk: FILES.disk,
      recorded: [FILES.ram, FILES.state, FILES.disk, FILES.proof, FILES.installed, FILES.detectors],
      hashed: (file) => file === FILES.state,
      save: async (staging) => {
        const started = performance.now();
        const saveMs = await saveQemuGuest(
          { staging, console: FILES.console },
          {
            machine: levelgateMachine(spec.image, spec),
            level: spec.level,
            ...(spec.target ? { target: spec.target } : {}),
            accel: spec.accel,
            dataDisks: spec.dataDisks,
            ...(spec.memoryMiB ? { memoryMiB: spec.memoryMiB } : {}),
            ...(spec.emulator ? { emulator: spec.emulator } : {}),
          },
          options,
          (guest) => recordGuestBeforeSave(guest, spec.warmUp ?? [], staging, DEFAULTS.commandTimeoutMs),
        );
        log(`snapshot ${snapshotKeyOf(inputs)}: ${name} guest (${spec.accel}) booted, proven and saved in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        return { bootMs: Math.round(performance.now() - started - saveMs), saveMs };
      },
      read: async (dir) => {
        const file = (f: string) => path.join(dir, f);
        return { ram: file(FILES.ram), state: file(FILES.state), disk: file(FILES.disk), bootConsole: file(FILES.console), ...(await readSavedGuest(dir)) };
      },
    },
    options,
  );
}

/**
 * Every QEMU machine's snapshot save: boots the guest into `staging` (its disk an overlay
 * over the machine's, its RAM and UEFI store in files there), lets `record` write what
 * the snapshot keeps, then saves the device state. The guest is gone afterwards; returns
 * the save's duration.
 */
export async function saveQemuGuest(
  /** The staging folder, the console log's name there, and whether the UEFI store is saved too. */
  where: { readonly staging: string; readonly console: string; readonly uefi?: boolean },
  boot: Omit<QemuGuestOptions, 'image' | 'machine' | 'disk' | 'consoleLog' | 'bootTimeoutMs' | 'signal'> & { readonly machine: QemuMachine },
  options: Pick<EnsureSnapshotOptions, 'bootTimeoutMs' | 'signal'>,
  record: (guest: QemuGuest) => Promise<void>,
): Promise<number> {
  const file = (name: string) => path.join(where.staging, name);
  await createOverlay(boot.machine.backing.path, file(FILES.disk), options.signal, boot.machine.backing.format);
  const guest = await QemuGuest.bootForSnapshot(
    {
      ...boot,
      disk: file(FILES.disk),
      consoleLog: file(where.console),
      ...(options.bootTimeoutMs ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    file(FILES.ram),
    where.uefi ? file(QEMU_SNAPSHOT_FILES.vars) : undefined,
  );
  try {
    await record(guest);
    const saving = performance.now();
    await guest.saveSnapshot(file(FILES.state));
    return Math.round(performance.now() - saving);
  } finally {
    await guest.dispose();
  }
}
