// What a restore of a saved Bochs state reads and writes: the snapshot's files, the
// per-guest state folder Bochs is pointed at (saved files linked, config rewritten for
// this guest: bochs-saved-config.ts), and a cell's root journal made from the saved one.
import { chmod, copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { LevelProof } from '../levels/proof.js';
import type { BochsMachineSpec } from './bochs-config.js';
import { restoredConfig } from './bochs-saved-config.js';
import type { DataDisk } from '../model/guest.js';

/** What a restore needs: the state Bochs saved and what the snapshot recorded of the saved guest. */
export interface BochsSnapshotFiles {
  /** The folder Bochs saved into (its config, memory.ram, device state, redologs). */
  readonly state: string;
  /** The saved boot's boot info file (the restored config names it; the saved RAM holds its bytes). */
  readonly bootInfo: string;
  readonly proof: LevelProof;
  readonly cpuModel: string;
  readonly memoryMiB: number;
  /** The data disks the saved guest had, in order (ata1-master, ata1-slave). */
  readonly dataDisks: readonly DataDisk[];
}

/** The root disk's redolog in a saved state (ata0-slave: channel 0, drive 1). */
export const SAVED_ROOT_JOURNAL = 'hard_drive.0.drive1.image';
export const SAVED_CONFIG = 'config';

/** The root disk as the snapshot saved it, as a writable redolog at `journal` (a cell's disk state). */
export async function copySavedRootJournal(snapshot: Pick<BochsSnapshotFiles, 'state'>, journal: string): Promise<void> {
  await copyFile(path.join(snapshot.state, SAVED_ROOT_JOURNAL), journal);
  await chmod(journal, 0o644);
}

/**
 * The state folder one restore reads: every saved file linked (the snapshot is only
 * read) and the saved config rewritten for this guest (bochs-saved-config.ts).
 */
export async function restoreState(snapshot: BochsSnapshotFiles, spec: BochsMachineSpec, dir: string): Promise<string> {
  await mkdir(dir);
  for (const name of await readdir(snapshot.state)) {
    if (name !== SAVED_CONFIG) await symlink(path.join(snapshot.state, name), path.join(dir, name));
  }
  const saved = await readFile(path.join(snapshot.state, SAVED_CONFIG), 'utf8');
  const journals: Record<string, string> = { 'ata0-master': spec.bootDisk.journal, 'ata0-slave': spec.rootDisk.journal };
  spec.dataDisks.forEach((disk, i) => (journals[i === 0 ? 'ata1-master' : 'ata1-slave'] = disk.journal));
  await writeFile(path.join(dir, SAVED_CONFIG), restoredConfig(saved, { journals, bootInfo: spec.bootInfo, logFile: spec.logFile }));
  return dir;
}
