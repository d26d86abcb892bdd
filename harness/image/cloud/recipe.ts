// The stand-in cloud image's recipe: a Debian sid disk shaped the way distributions ship
// their cloud images (partitioned, its own kernel, initramfs and GRUB, systemd,
// cloud-init, rpm/dnf5/zypper), in two variants: with qemu-guest-agent, and without it
// (for the NoCloud seed path). The second is also laid out unlike the first, as images
// built elsewhere are: no zypper at all, and none of the directories an rpm distribution
// ships (/etc/yum.repos.d, /etc/zypp), so that a driver that assumes them, or a missing
// tool that is not a skip, shows. Its digest names it in the cache.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export type StandInVariant = 'qga' | 'noqga';

export interface StandInRecipe {
  readonly name: string;
  readonly variant: StandInVariant;
  readonly suite: string;
  readonly mirror: string;
  /** On top of mmdebstrap's `minbase` variant. */
  readonly packages: readonly string[];
  /** The root filesystem's label, which GRUB and the kernel command line find it by. */
  readonly rootLabel: string;
  readonly diskSizeMiB: number;
  /** Whether the root gets the directories an rpm distribution ships (/etc/yum.repos.d); 'bare' leaves them out. */
  readonly layout: 'rpm-distribution' | 'bare';
}

export function standInRecipe(variant: StandInVariant, env: NodeJS.ProcessEnv = process.env): StandInRecipe {
  return {
    name: `levelgate-stand-in-${variant}`,
    variant,
    suite: 'sid',
    mirror: env.LEVELGATE_MIRROR ?? 'http://deb.debian.org/debian',
    packages: [
      'systemd',
      'systemd-sysv',
      'udev',
      'linux-image-amd64',
      'initramfs-tools',
      'grub-pc-bin',
      'grub2-common',
      'cloud-init',
      'rpm',
      'dnf5',
      ...(variant === 'qga' ? ['zypper'] : []),
      'e2fsprogs',
      // hwclock: qemu-guest-agent's guest-set-time fails without it (after setting the clock).
      'util-linux-extra',
      ...(variant === 'qga' ? ['qemu-guest-agent'] : []),
    ],
    rootLabel: 'cloudroot',
    diskSizeMiB: 2048,
    layout: variant === 'qga' ? 'rpm-distribution' : 'bare',
  };
}

/** The digest of the recipe and of the build code (this directory's compiled modules). */
export async function standInDigest(recipe: StandInRecipe): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(recipe));
  const buildDir = fileURLToPath(new URL('.', import.meta.url));
  for (const file of (await readdir(buildDir)).filter((f) => /^(recipe|build)\.js$/.test(f)).sort()) {
    hash.update(`\0${file}\0`);
    hash.update(await readFile(`${buildDir}/${file}`));
  }
  return hash.digest('hex').slice(0, 16);
}
