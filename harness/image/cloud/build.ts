// Builds the stand-in cloud image from Debian packages only, as named, timed steps in
// the cache's staging directory (ensureCached publishes it whole or not at all):
// mmdebstrap a sid root, lay it on a partitioned disk (dos label, one ext4 partition),
// install GRUB into the disk's boot track, and convert the disk to qcow2. The image is
// what a distribution ships; levelgate brings nothing of its own into it.
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { ensureHostPackages } from '../../host/install.js';
import { CleanupStack } from '../../util/cleanup-stack.js';
import { InfrastructureError } from '../../util/errors.js';
import { silentLog, timedStep, type Log } from '../../util/log.js';
import { cacheRoot, ensureCached, exists, writeJson } from '../../host/cache.js';
import { standInDigest, standInRecipe, type StandInRecipe, type StandInVariant } from './recipe.js';

export interface StandInManifest {
  readonly digest: string;
  readonly recipe: StandInRecipe;
  readonly builtAt: string;
  readonly buildSeconds: number;
  readonly kernelRelease: string;
  /** Every Debian package in the image with its exact version. */
  readonly packages: Readonly<Record<string, string>>;
  readonly diskBytes: number;
}

export interface StandInImage {
  readonly digest: string;
  readonly dir: string;
  /** The image a user would download: a qcow2 disk. */
  readonly disk: string;
  /** The image's own kernel and initramfs, as copied out of its /boot. */
  readonly kernel: string;
  readonly initrd: string;
  readonly manifest: StandInManifest;
}

const FILES = { disk: 'disk.qcow2', kernel: 'vmlinuz', initrd: 'initrd.img', manifest: 'manifest.json' } as const;
const PARTITION_START_SECTOR = 2048;

async function run(command: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
  const result = await execa(command, args, { reject: false, all: true, ...(signal ? { cancelSignal: signal } : {}) });
  if (result.isCanceled) throw new InfrastructureError(`stand-in image build interrupted during: ${result.escapedCommand}`);
  if (result.failed) {
    throw new InfrastructureError(`stand-in image build step failed: ${result.escapedCommand} (${result.shortMessage})`, { details: (result.all ?? '').split('\n').slice(-30).join('\n') });
  }
  return result.stdout;
}

async function load(dir: string, digest: string): Promise<StandInImage | undefined> {
  try {
    const manifest = JSON.parse(await readFile(path.join(dir, FILES.manifest), 'utf8')) as StandInManifest;
    if (manifest.digest !== digest || (await stat(path.join(dir, FILES.disk))).size !== manifest.diskBytes) return undefined;
    return { digest, dir, disk: path.join(dir, FILES.disk), kernel: path.join(dir, FILES.kernel), initrd: path.join(dir, FILES.initrd), manifest };
  } catch {
    return undefined;
  }
}

export interface EnsureStandInOptions {
  readonly cacheDir?: string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
  readonly rebuild?: boolean;
}

/** The stand-in image of `variant`, built once and cached. */
export async function ensureStandInImage(variant: StandInVariant, options: EnsureStandInOptions = {}): Promise<StandInImage> {
  const recipe = standInRecipe(variant);
  const digest = await standInDigest(recipe);
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'cloud-images', `${recipe.name}-${digest}`);
  return ensureCached({
    dir,
    what: `the stand-in cloud image ${recipe.name} (${digest})`,
    load: () => load(dir, digest),
    build: (staging) => buildStandIn(recipe, digest, staging, options.log ?? silentLog, options.signal),
    log: options.log ?? silentLog,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.rebuild ? { rebuild: true } : {}),
  });
}

/** Where a build works, inside the staging directory and removed before it is published: the root tree, the raw disk and its mount point. */
interface WorkDirs {
  readonly root: string;
  readonly raw: string;
  readonly mnt: string;
}

/** The stand-in build as a flat list of named, timed steps filling `out` (the cache's staging directory). */
async function buildStandIn(recipe: StandInRecipe, digest: string, out: string, log: Log, signal?: AbortSignal): Promise<void> {
  if (process.getuid?.() !== 0) throw new InfrastructureError('building the stand-in cloud image needs root (mmdebstrap, a loop device and grub-install)', { hint: 'run as root once; later runs only read the cached image' });
  await ensureHostPackages(['image', 'cloud'], log);
  const started = performance.now();
  const work = path.join(out, 'work');
  const dirs: WorkDirs = { root: path.join(work, 'root'), raw: path.join(work, 'disk.raw'), mnt: path.join(work, 'mnt') };
  const disk = path.join(out, FILES.disk);
  let kernelRelease: string;
  let packages: Record<string, string>;
  await mkdir(dirs.mnt, { recursive: true });
  try {
    log(`building the stand-in cloud image ${recipe.name} ${digest} (Debian ${recipe.suite}: ${recipe.packages.join(' ')})`);
    await timedStep(log, `bootstrap a Debian ${recipe.suite} root with mmdebstrap (minbase)`, () => bootstrapRoot(recipe, dirs.root, signal));
    await timedStep(log, 'configure the root as a cloud image (fstab, GRUB on the serial console, root without password, rpm database)', () => configureRoot(recipe, dirs.root, signal));
    kernelRelease = await timedStep(log, "copy the image's own kernel and initramfs out of /boot", () => copyBootFiles(dirs.root, out));
    packages = await timedStep(log, 'record package versions', () => recordPackages(dirs.root, signal));
    await timedStep(log, `lay the root on a ${recipe.diskSizeMiB} MiB partitioned disk (dos label, ext4 ${recipe.rootLabel} from 1 MiB)`, () => layRootOnDisk(recipe, dirs, signal));
    await timedStep(log, "install GRUB into the disk's boot track (grub-install --target=i386-pc in the image's root)", () => installGrub(dirs, signal));
    await timedStep(log, 'convert the disk to qcow2', () => run('qemu-img', ['convert', '-O', 'qcow2', dirs.raw, disk], signal));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  for (const file of Object.values(FILES)) if (file !== FILES.manifest) await chmod(path.join(out, file), 0o444);
  const manifest: StandInManifest = {
    digest,
    recipe,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((performance.now() - started) / 100) / 10,
    kernelRelease,
    packages,
    diskBytes: (await stat(disk)).size,
  };
  await writeJson(path.join(out, FILES.manifest), manifest);
  log(`stand-in cloud image ${recipe.name} ${digest} built in ${manifest.buildSeconds} s`);
}

async function bootstrapRoot(recipe: StandInRecipe, root: string, signal?: AbortSignal): Promise<void> {
  await run(
    'mmdebstrap',
    [
      '--variant=minbase',
      `--include=${recipe.packages.join(',')}`,
      // sid's Release file on the mirror can be past its Valid-Until date.
      '--aptopt=Acquire::Check-Valid-Until "false"',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-include=/usr/share/doc/*/copyright',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      recipe.suite,
      root,
      recipe.mirror,
    ],
    signal,
  );
}

/** fstab, GRUB on the serial console, root without a password, and what an rpm-based distribution has by construction. */
async function configureRoot(recipe: StandInRecipe, root: string, signal?: AbortSignal): Promise<void> {
  await writeFile(path.join(root, 'etc/hostname'), 'lgcloud\n');
  await run('chroot', [root, 'passwd', '-d', 'root'], signal);
  await writeFile(path.join(root, 'etc/fstab'), `LABEL=${recipe.rootLabel} / ext4 defaults,errors=remount-ro 0 1\n`);
  await mkdir(path.join(root, 'boot/grub'), { recursive: true });
  await writeFile(
    path.join(root, 'boot/grub/grub.cfg'),
    ['serial --unit=0 --speed=115200', 'terminal_input serial console', 'terminal_output serial console', 'set timeout=0', `linux /vmlinuz root=LABEL=${recipe.rootLabel} ro console=ttyS0,115200`, 'initrd /initrd.img', 'boot', ''].join('\n'),
  );
  // What an rpm-based distribution has by construction, and this Debian root needs said:
  // rpm's database under /var/lib/rpm, libzypp's system check (glibc belongs to dpkg
  // here), and no dnf5 "local" plugin (Fedora does not install it).
  await mkdir(path.join(root, 'etc/rpm'), { recursive: true });
  await writeFile(path.join(root, 'etc/rpm/macros.levelgate'), '%_dbpath /var/lib/rpm\n');
  await mkdir(path.join(root, 'var/lib/rpm'), { recursive: true });
  await run('chroot', [root, 'rpmdb', '--initdb'], signal);
  if (recipe.layout === 'rpm-distribution') await mkdir(path.join(root, 'etc/yum.repos.d'), { recursive: true });
  await mkdir(path.join(root, 'etc/dnf/libdnf5-plugins'), { recursive: true });
  await writeFile(path.join(root, 'etc/dnf/libdnf5-plugins/local.conf'), '[main]\nname = local\nenabled = 0\n');
  if (recipe.packages.includes('zypper')) await writeFile(path.join(root, 'etc/zypp/systemCheck'), '## glibc is installed by dpkg in this Debian image, not by rpm.\n');
  // A bare layout: whatever the packages brought of an rpm distribution's directories goes.
  if (recipe.layout === 'bare') for (const dir of ['etc/yum.repos.d', 'etc/zypp']) await rm(path.join(root, dir), { recursive: true, force: true });
}

/** The image's own kernel and initramfs, copied out of its /boot; returns the kernel release. */
async function copyBootFiles(root: string, out: string): Promise<string> {
  const boot = await readdir(path.join(root, 'boot'));
  const release = boot.find((f) => f.startsWith('vmlinuz-'))?.slice('vmlinuz-'.length);
  if (!release || !boot.includes(`initrd.img-${release}`)) throw new InfrastructureError(`the root's /boot holds no kernel and initramfs pair: ${boot.join(' ')}`);
  await copyFile(path.join(root, 'boot', `vmlinuz-${release}`), path.join(out, FILES.kernel));
  await copyFile(path.join(root, 'boot', `initrd.img-${release}`), path.join(out, FILES.initrd));
  return release;
}

/** Every Debian package in the root with its exact version. */
async function recordPackages(root: string, signal?: AbortSignal): Promise<Record<string, string>> {
  const listing = await run('chroot', [root, 'dpkg-query', '-W', '-f=${Package}\t${Version}\n'], signal);
  return Object.fromEntries(listing.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
}

/** The root tree on a raw disk with a dos label and one ext4 partition from sector 2048. */
async function layRootOnDisk(recipe: StandInRecipe, dirs: WorkDirs, signal?: AbortSignal): Promise<void> {
  await writeFile(dirs.raw, '');
  await truncate(dirs.raw, recipe.diskSizeMiB * 1048576);
  await execa('sfdisk', ['-q', dirs.raw], { input: `label: dos\nstart=${PARTITION_START_SECTOR}, type=83, bootable\n`, ...(signal ? { cancelSignal: signal } : {}) });
  const partitionKiB = recipe.diskSizeMiB * 1024 - (PARTITION_START_SECTOR * 512) / 1024;
  await run('mkfs.ext4', ['-q', '-F', '-L', recipe.rootLabel, '-E', `offset=${PARTITION_START_SECTOR * 512}`, '-d', dirs.root, dirs.raw, `${partitionKiB}k`], signal);
}

/** GRUB in the raw disk's boot track, installed from the image's own root mounted through a loop device. */
async function installGrub(dirs: WorkDirs, signal?: AbortSignal): Promise<void> {
  const { raw, mnt } = dirs;
  // Everything mounted or attached here is released when the step ends, however it ends.
  await using stack = new CleanupStack();
  const loop = (await run('losetup', ['-f', '--show', '-P', raw], signal)).trim();
  stack.defer(`detach ${loop}`, async () => {
    await execa('partx', ['-d', loop], { reject: false });
    await execa('losetup', ['-d', loop], { reject: false });
  });
  const name = path.basename(loop);
  const sysPartition = `/sys/block/${name}/${name}p1/dev`;
  // Kernels without a dos partition parser make no partitions for -P: add it by BLKPG.
  if (!(await exists(sysPartition))) await run('partx', ['-a', loop], signal);
  const partition = `${loop}p1`;
  if (!(await exists(partition))) {
    // No udev here: make the node devtmpfs did not.
    const [major, minor] = (await readFile(sysPartition, 'utf8')).trim().split(':');
    await run('mknod', [partition, 'b', major!, minor!], signal);
    stack.defer(`remove ${partition}`, () => rm(partition, { force: true }));
  }
  await run('mount', [partition, mnt], signal);
  stack.defer(`unmount ${mnt}`, async () => void (await execa('umount', [mnt], { reject: false })));
  for (const fs of ['dev', 'proc', 'sys']) {
    await run('mount', ['--bind', `/${fs}`, path.join(mnt, fs)], signal);
    stack.defer(`unmount ${mnt}/${fs}`, async () => void (await execa('umount', ['-l', path.join(mnt, fs)], { reject: false })));
  }
  await run('chroot', [mnt, 'grub-install', '--target=i386-pc', loop], signal);
}
