// Getting at the files to audit: RPM payloads through bsdtar (libarchive reads gzip,
// xz and zstd payloads) or, for payloads libarchive does not know, rpm's own
// rpm2archive; ext4 guest images through debugfs's rdump (no mount, the image is only
// read); the ELF files under a tree and the programs a package ships.
import { lstat, open, readdir, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { InfrastructureError } from '../util/errors.js';
import { levelgateCommand } from '../util/invocation.js';
import { RAM_SCRATCH } from '../host/temp-sweep.js';

export class UnpackError extends Error {}

/** Unpacks an RPM's payload into `dir` (which must exist). Throws UnpackError with the unpackers' reasons. */
export async function unpackRpm(file: string, dir: string, signal?: AbortSignal): Promise<void> {
  const cancel = signal ? { cancelSignal: signal } : {};
  const result = await execa('bsdtar', ['-x', '--no-same-owner', '-f', file, '-C', dir], { reject: false, all: true, ...cancel });
  if (!result.failed) return;
  if (result.isCanceled) throw new UnpackError('interrupted');
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new InfrastructureError('bsdtar is missing: it unpacks RPMs for the audit', { hint: `apt-get install libarchive-tools   (or run ${levelgateCommand()} setup)` });
  }
  const bsdtar = tail(result.all) || `exit ${result.exitCode}`;
  // rpm >= 4.20 (the guest's rpm 6.1 among them) may write payloads libarchive 3.6 does
  // not read ("stripped" cpio): rpm's own reader turns any payload rpm knows into a tar.
  const tar = await execa('rpm2archive', ['-n', '-'], { inputFile: file, reject: false, all: true, ...cancel }).pipe('bsdtar', ['-x', '--no-same-owner', '-f', '-', '-C', dir], { reject: false, all: true, ...cancel });
  if (!tar.failed) return;
  if (tar.isCanceled) throw new UnpackError('interrupted');
  const rpm2archive = (tar.pipedFrom[0] as { all?: string; code?: string; exitCode?: number } | undefined) ?? {};
  const why = rpm2archive.code === 'ENOENT' ? 'rpm2archive is missing (apt-get install rpm)' : tail(rpm2archive.all) || tail(tar.all) || `exit ${tar.exitCode}`;
  throw new UnpackError(`bsdtar could not unpack it (${bsdtar}), nor rpm2archive (${why})`);
}

const tail = (output: string | undefined): string => (output ?? '').trim().split('\n').slice(-3).join('; ');

/** True when `file` starts like an ext2/3/4 file system (the superblock magic at 1080). */
export async function isExtImage(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const b = Buffer.alloc(2);
    const { bytesRead } = await handle.read(b, 0, 2, 1080);
    return bytesRead === 2 && b.readUInt16LE(0) === 0xef53;
  } finally {
    await handle.close();
  }
}

/** The bytes an ext2/3/4 image's files take, (blocks − free blocks) × block size by its superblock; undefined when it is no such image. */
export async function extUsedBytes(file: string): Promise<number | undefined> {
  const handle = await open(file, 'r');
  try {
    const sb = Buffer.alloc(0x160);
    const { bytesRead } = await handle.read(sb, 0, sb.length, 1024);
    if (bytesRead < sb.length || sb.readUInt16LE(56) !== 0xef53) return undefined;
    // INCOMPAT_64BIT: the counts' high halves are in use.
    const wide = (sb.readUInt32LE(0x60) & 0x80) !== 0;
    const blocks = sb.readUInt32LE(4) + (wide ? sb.readUInt32LE(0x150) * 2 ** 32 : 0);
    const free = sb.readUInt32LE(12) + (wide ? sb.readUInt32LE(0x158) * 2 ** 32 : 0);
    return Math.max(0, blocks - free) * 1024 * 2 ** sb.readUInt32LE(24);
  } finally {
    await handle.close();
  }
}

/**
 * Where to unpack a tree of `bytes`: in RAM_SCRATCH when it and free memory each have room
 * for it twice over and TMPDIR does not name a place; undefined: the temporary directory.
 */
export function unpackParent(bytes: number | undefined, host: { readonly tmpdirSet: boolean; readonly ramFree: number | undefined; readonly memoryFree: number }): string | undefined {
  if (host.tmpdirSet || bytes === undefined || host.ramFree === undefined) return undefined;
  return 2 * bytes <= host.ramFree && 2 * bytes <= host.memoryFree ? RAM_SCRATCH : undefined;
}

/** unpackParent for an image on this host. */
export async function imageUnpackParent(image: string): Promise<string | undefined> {
  const ram = await statfs(RAM_SCRATCH).then(
    (s) => s.bavail * s.bsize,
    () => undefined,
  );
  return unpackParent(await extUsedBytes(image), { tmpdirSet: !!process.env['TMPDIR'], ramFree: ram, memoryFree: os.freemem() });
}

/** Copies a guest image's whole tree into `dir` with debugfs (read-only; device nodes are skipped unless root). */
export async function unpackImage(image: string, dir: string, signal?: AbortSignal): Promise<void> {
  const result = await execa('debugfs', ['-R', `rdump / ${dir}`, image], { reject: false, all: true, ...(signal ? { cancelSignal: signal } : {}) });
  if ((result as { code?: string }).code === 'ENOENT') {
    throw new InfrastructureError('debugfs is missing: it reads guest images for the audit', { hint: 'apt-get install e2fsprogs' });
  }
  const usr = await lstat(path.join(dir, 'usr')).then(
    () => true,
    () => false,
  );
  if (!usr) throw new UnpackError(`debugfs could not read the image: ${tail(result.all) || 'it holds no /usr'}`);
}

export interface TreeFile {
  /** Absolute path on the host. */
  readonly file: string;
  /** The path inside the tree, with a leading slash. */
  readonly path: string;
  readonly size: number;
}

export interface TreeListing {
  readonly elf: TreeFile[];
  /** Regular files that are not ELF (scripts, data, documentation). */
  readonly others: number;
}

/** Every regular ELF file under `root` (symbolic links are not followed; hard links are listed once). */
export async function listElfFiles(root: string, skip: ReadonlySet<string> = new Set()): Promise<TreeListing> {
  const elf: TreeFile[] = [];
  let others = 0;
  const seen = new Set<string>();
  const magic = Buffer.alloc(4);
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return; // unreadable directory: nothing to audit in it
    }
    for (const entry of entries) {
      const file = path.join(dir, entry.name);
      const inside = `/${path.relative(root, file)}`;
      if (entry.isDirectory()) {
        if (!skip.has(inside)) await walk(file);
        continue;
      }
      if (!entry.isFile()) continue;
      const stats = await lstat(file);
      const id = `${stats.dev}:${stats.ino}`;
      if (stats.nlink > 1) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      let isElf = false;
      try {
        const handle = await open(file, 'r');
        try {
          const { bytesRead } = await handle.read(magic, 0, 4, 0);
          isElf = bytesRead === 4 && magic.readUInt32BE(0) === 0x7f454c46;
        } finally {
          await handle.close();
        }
      } catch {
        isElf = false;
      }
      if (isElf) elf.push({ file, path: inside, size: stats.size });
      else others++;
    }
  };
  await walk(root);
  return { elf, others };
}

/** Where a package's programs live. */
export const PROGRAM_DIRS = ['/usr/bin', '/usr/sbin', '/bin', '/sbin'] as const;

/** The executable regular files directly in the program directories of an unpacked tree, as paths inside it. */
export async function listPrograms(root: string): Promise<string[]> {
  const programs: string[] = [];
  for (const dir of PROGRAM_DIRS) {
    const entries = await readdir(path.join(root, dir), { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const stats = await lstat(path.join(root, dir, entry.name));
      if (stats.mode & 0o111) programs.push(`${dir}/${entry.name}`);
    }
  }
  return programs.sort();
}
