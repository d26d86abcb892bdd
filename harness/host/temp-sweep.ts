// Temp dirs of runs that were killed. Every levelgate temp dir is made by tmp-promise,
// whose names carry the creating process's id (`levelgate-…-PID-RANDOM12`), in the
// temporary directory or in RAM (the audit's unpacked images); a process ended by SIGKILL
// cannot remove its own, so the next run removes those whose process is gone. A live
// process's dirs are never touched (a pid reused by another process keeps its dirs until
// that one ends too: a leak, never a loss).
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pidAlive } from './cache.js';
import { removeTree } from './remove-tree.js';

/** A RAM file system every Linux host mounts: writing an image's ~12,000 files there takes under a second, where a busy ext4 /tmp took 10 s and more (the audit unpacks images there). */
export const RAM_SCRATCH = '/dev/shm';

const TEMP_NAME = /^levelgate-.*-(\d+)-[A-Za-z0-9]{12}$/;

/** The pid in a levelgate temp dir's name, undefined for any other name. */
export function tempDirOwner(name: string): number | undefined {
  const match = TEMP_NAME.exec(name);
  return match ? Number(match[1]) : undefined;
}

/** Removes levelgate temp dirs under `roots` whose creating process no longer runs; returns their paths. */
export async function sweepOrphanTempDirs(roots: readonly string[] = [os.tmpdir(), RAM_SCRATCH], isAlive: (pid: number) => boolean = pidAlive): Promise<string[]> {
  const removed: string[] = [];
  for (const root of roots) removed.push(...(await sweepRoot(root, isAlive)));
  return removed;
}

async function sweepRoot(root: string, isAlive: (pid: number) => boolean): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const removed: string[] = [];
  for (const entry of entries) {
    const pid = entry.isDirectory() ? tempDirOwner(entry.name) : undefined;
    if (pid === undefined || pid === process.pid || isAlive(pid)) continue;
    const dir = path.join(root, entry.name);
    try {
      await removeTree(dir);
      removed.push(dir);
    } catch {
      // still mounted or not ours to remove: left for a person to look at
    }
  }
  return removed;
}
