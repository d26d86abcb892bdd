// Host folders reach guests as read-only ext4 disk images (mkfs.ext4 -d: no loop
// mount, no root needed, faster for the guest than 9p). The guest's init mounts each
// at /mnt/NAME.
import { readdir, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { InfrastructureError, UsageError } from '../util/errors.js';
import type { DataDisk } from '../model/guest.js';

/** Bochs wants disk sizes of whole cylinders of 16 heads x 63 sectors (every data disk is made so). */
export const CYLINDER_BYTES = 16 * 63 * 512;

const NAME = /^[a-z0-9][a-z0-9._-]{0,16}$/;

export function validateDataDiskName(name: string, where = 'data disk name'): void {
  if (!NAME.test(name)) {
    throw new UsageError(`${where}: "${name}" is not a valid name; use 1-17 characters of a-z 0-9 . _ - (it becomes /mnt/${name} and a virtio serial)`);
  }
}

async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += 4096 + (await treeBytes(full));
    else if (entry.isFile()) total += Math.ceil((await stat(full)).size / 4096) * 4096 + 4096;
    else total += 4096;
  }
  return total;
}

/** Makes an ext4 image of `folder` at `imagePath`, sized to fit with room for metadata. */
export async function makeDataDisk(name: string, folder: string, imagePath: string): Promise<DataDisk> {
  validateDataDiskName(name);
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`data disk "${name}": ${folder} is not a directory`);
  const used = await treeBytes(folder);
  const mib = Math.max(16, Math.ceil((used * 1.25) / 1048576) + 8);
  // Whole cylinders (16 heads x 63 sectors = 504 KiB), as Bochs's IDE disks need: the
  // file is made at that size first, and mkfs.ext4 fills it (given a size, it rounds).
  const bytes = Math.ceil((mib * 1048576) / CYLINDER_BYTES) * CYLINDER_BYTES;
  await writeFile(imagePath, '');
  await truncate(imagePath, bytes);
  const result = await execa('mkfs.ext4', ['-q', '-F', '-L', name, '-d', folder, imagePath], { reject: false, all: true });
  if (result.failed) {
    throw new InfrastructureError(`cannot make data disk "${name}" from ${folder}: ${result.shortMessage}`, { details: result.all ?? '' });
  }
  return { name, path: imagePath };
}
