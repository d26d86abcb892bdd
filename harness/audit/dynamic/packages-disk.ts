// The packages `audit --run` installs (and the loose programs and loader that --run
// bisect runs) reach its guests on a read-only data disk at /mnt/audit, as the fixture repositories reach the gate's (no networking). The disk is
// named by the content of its packages and cached: the snapshot of a booted guest
// depends on its attached disks, so the same packages audited again restore the same
// snapshot instead of booting a new one.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { makeDataDisk } from '../../host/data-disk.js';
import type { DataDisk } from '../../model/guest.js';
import { cacheRoot, ensureCached, exists } from '../../host/cache.js';
import { silentLog, type Log } from '../../util/log.js';

export const PACKAGES_DISK = 'audit';
const DISK_FILE = 'packages.img';

export interface PackagesDisk {
  readonly disk: DataDisk;
  /** Where the guest sees a host package file of the disk. */
  readonly guestPath: (file: string) => string;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/** Each file at `SHA256-PREFIX/BASENAME` on the disk: two packages with one name stay apart. */
export async function ensurePackagesDisk(files: readonly string[], options: { readonly cacheDir?: string; readonly log?: Log; readonly signal?: AbortSignal } = {}): Promise<PackagesDisk> {
  const entries = await Promise.all([...new Set(files)].map(async (file) => ({ file, place: `${(await sha256Of(file)).slice(0, 16)}/${path.basename(file)}` })));
  const key = createHash('sha256')
    .update(JSON.stringify(entries.map((e) => e.place).sort()))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'audit-disks', key);
  const image = path.join(dir, DISK_FILE);
  await ensureCached({
    dir,
    what: `the disk of ${entries.length} packages to run`,
    load: async () => ((await exists(image)) ? image : undefined),
    log: options.log ?? silentLog,
    ...(options.signal ? { signal: options.signal } : {}),
    build: async (staging) => {
      const tree = path.join(staging, 'tree');
      for (const e of entries) {
        await mkdir(path.join(tree, path.dirname(e.place)), { recursive: true });
        await copyFile(e.file, path.join(tree, e.place));
        // Loose programs and the loader (audit --run bisect) run from the disk: executable whatever their mode was.
        if (!e.file.endsWith('.rpm')) await chmod(path.join(tree, e.place), 0o755);
      }
      await makeDataDisk(PACKAGES_DISK, tree, path.join(staging, DISK_FILE));
      await rm(tree, { recursive: true, force: true });
    },
  });
  const places = new Map(entries.map((e) => [e.file, e.place]));
  return {
    disk: { name: PACKAGES_DISK, path: image },
    guestPath: (file) => {
      const place = places.get(file);
      if (!place) throw new Error(`${file} is not on the packages disk`);
      return `/mnt/${PACKAGES_DISK}/${place}`;
    },
  };
}
