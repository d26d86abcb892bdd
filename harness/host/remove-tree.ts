// Removing a build's working tree safely: an image build that was killed (SIGKILL, a
// test runner's timeout) can leave /proc, /sys, /dev/pts or a bind of the host's /dev
// mounted inside its staging directory, and a recursive delete would walk into them.
// Everything mounted beneath the tree is unmounted first, deepest first, and the delete
// is refused if a mount is still there.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

/** mountinfo escapes space, tab, newline and backslash in paths as octal (\040 …). */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount points at or beneath `dir` in a /proc/self/mountinfo text, deepest first. */
export function mountsBeneath(mountinfo: string, dir: string): string[] {
  const root = path.resolve(dir);
  const points = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    const point = unescapeMountPath(field);
    if (point === root || point.startsWith(`${root}/`)) points.add(point);
  }
  return [...points].sort((a, b) => b.split('/').length - a.split('/').length || b.localeCompare(a));
}

async function currentMountsBeneath(dir: string): Promise<string[]> {
  return mountsBeneath(await readFile('/proc/self/mountinfo', 'utf8'), dir);
}

/**
 * Deletes `dir` (recursive, missing is fine) after unmounting, lazily and deepest first,
 * whatever is mounted beneath it; throws, naming the mount points, when one stays.
 */
export async function removeTree(dir: string): Promise<void> {
  const mounted = await currentMountsBeneath(dir);
  for (const point of mounted) await execa('umount', ['-l', point], { reject: false });
  const left = mounted.length > 0 ? await currentMountsBeneath(dir) : [];
  if (left.length > 0) {
    throw new Error(`refusing to delete ${dir}: still mounted beneath it: ${left.join(', ')}; unmount them (umount -l PATH) and run again`);
  }
  await rm(dir, { recursive: true, force: true });
}
