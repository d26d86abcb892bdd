// The default guest image's recipe, and the digest that names it in the cache.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export interface ImageRecipe {
  readonly name: string;
  /** Debian suite of the guest root and kernel. */
  readonly suite: string;
  readonly mirror: string;
  /** Packages on top of mmdebstrap's `essential` variant. */
  readonly packages: readonly string[];
  /** The metapackage whose kernel the guest boots. */
  readonly kernelPackage: string;
  /** Modules the initramfs loads to reach the root disk (with their dependencies). */
  readonly bootModules: readonly string[];
  /** The same for emulators with IDE disks only (Bochs): `levelgate.disk=ata` on the kernel command line. */
  readonly ataBootModules: readonly string[];
  /** Further modules installed on the root disk for `modprobe` in the guest. */
  readonly rootModules: readonly string[];
  /** Whole cylinders of 16 x 63 sectors (504 KiB), as Bochs requires: a multiple of 63 MiB. */
  readonly diskSizeMiB: number;
}

/** Sources compiled or copied into the image: part of the digest. */
export const GUEST_SOURCES = ['agent.c', 'canary.c', 'initramfs-init.sh', 'fetch-kernel.sh', 'bochs-boot.S', 'varianttable', 'apt-test-varianttable'] as const;

export function guestSourcePath(name: (typeof GUEST_SOURCES)[number]): string {
  // Sources live beside the TypeScript sources; compiled code runs from dist/harness/image.
  return fileURLToPath(new URL(`../../../harness/image/guest/${name}`, import.meta.url));
}

export function defaultRecipe(env: NodeJS.ProcessEnv = process.env): ImageRecipe {
  return {
    name: 'default',
    // sid: rpm 6.1 (level-aware), dnf5 5.4, zypper 1.14.101 / libzypp 17.38 (domain.md §4);
    // apt 3.3 (Ubuntu's architecture variants) with apt-utils' apt-ftparchive and dpkg-deb
    // for the .deb fixtures; pacman 7.1 with makepkg (repo-add), bsdtar and zstd for the
    // pacman fixtures (domain.md §8).
    suite: 'sid',
    mirror: env.LEVELGATE_MIRROR ?? 'http://deb.debian.org/debian',
    packages: ['rpm', 'dnf5', 'zypper', 'createrepo-c', 'apt', 'apt-utils', 'pacman-package-manager', 'makepkg', 'libarchive-tools', 'zstd', 'kmod', 'mount', 'procps', 'busybox-static'],
    kernelPackage: 'linux-image-amd64',
    bootModules: ['virtio_blk', 'ext4'],
    ataBootModules: ['ata_piix', 'sd_mod', 'ext4'],
    rootModules: ['9p', '9pnet_virtio', 'overlay', 'squashfs', 'isofs', 'loop'],
    diskSizeMiB: 2016,
  };
}

/**
 * The digest of everything that determines the image: the recipe, the guest-side
 * sources and the build code itself. Debian's package versions are not known before
 * building; the manifest records them.
 */
export async function recipeDigest(recipe: ImageRecipe): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(recipe));
  for (const name of GUEST_SOURCES) {
    hash.update(`\0${name}\0`);
    hash.update(await readFile(guestSourcePath(name)));
  }
  // The build code itself (this directory's compiled modules): a changed step is a new image.
  const buildDir = fileURLToPath(new URL('.', import.meta.url));
  for (const file of (await readdir(buildDir)).filter((f) => f.endsWith('.js')).sort()) {
    hash.update(`\0${file}\0`);
    hash.update(await readFile(`${buildDir}/${file}`));
  }
  return hash.digest('hex').slice(0, 16);
}
