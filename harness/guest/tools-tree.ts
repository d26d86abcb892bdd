// A tools tree (mkosi's `ToolsTree=`): a root bootstrapped from a newer Debian suite
// whose emulators run in place of the host's, cached like the guest image. Its QEMU runs
// without chroot, through the root's own dynamic loader and libraries, so every path a
// guest uses (overlays, sockets, RAM files, data disks) stays the host's.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { BochsProgram } from './bochs-engine.js';
import { emulatorCommand, parseQemuVersion, type Emulator } from './emulator.js';
import { cacheRoot, ensureCached, writeJson } from '../host/cache.js';
import { InfrastructureError } from '../util/errors.js';
import { silentLog, timedStep, type Log } from '../util/log.js';

export interface ToolsTreeRecipe {
  /** The Debian suite the emulators come from. */
  readonly suite: string;
  /** Packages on top of mmdebstrap's `apt` variant. */
  readonly packages: readonly string[];
  /** Not part of the key: where the packages come from, not what they are. */
  readonly mirror: string;
}

export interface ToolsTree {
  readonly key: string;
  readonly root: string;
  readonly recipe: ToolsTreeRecipe;
  /** Debian package versions in the root (qemu-system-x86, bochs, ...). */
  readonly versions: Readonly<Record<string, string>>;
}

// bochsbios's /usr/share/bochs/VGABIOS-lgpl-latest is a link into vgabios (Bochs 3.1
// panics at start without it: "couldn't open ROM image file").
export const TOOLS_TREE_PACKAGES = ['qemu-system-x86', 'qemu-utils', 'bochs', 'bochsbios', 'vgabios'] as const;

export function toolsTreeRecipe(suite: string, env: NodeJS.ProcessEnv = process.env): ToolsTreeRecipe {
  return { suite, packages: [...TOOLS_TREE_PACKAGES], mirror: env.LEVELGATE_MIRROR ?? 'http://deb.debian.org/debian' };
}

/** mmdebstrap's arguments before SUITE DIR MIRROR: no date, so the same recipe is the same key tomorrow. */
export function mmdebstrapOptions(recipe: ToolsTreeRecipe): string[] {
  return [
    '--variant=apt',
    `--include=${recipe.packages.join(',')}`,
    // sid's Release file on the mirror can be past its Valid-Until date.
    '--aptopt=Acquire::Check-Valid-Until "false"',
    // Nothing in the tree is ever booted or configured: documentation and locales are dead weight.
    '--dpkgopt=path-exclude=/usr/share/{doc,man,locale}/*',
  ];
}

/** The cache key: suite, packages and the mmdebstrap recipe (not the mirror, not the date). */
export function toolsTreeKey(recipe: ToolsTreeRecipe): string {
  const inputs = { suite: recipe.suite, packages: [...recipe.packages].sort(), mmdebstrap: mmdebstrapOptions(recipe) };
  return `${recipe.suite}-${createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 12)}`;
}

const MANIFEST = 'manifest.json';

/**
 * The argv prefix that runs the tree's QEMU from the host without chroot: the tree's
 * own ld.so with --library-path over the tree's library directories (so the host's
 * libraries are never mixed in, and children QEMU spawns, such as the `exec:` of a
 * migration, run with the host's), then the firmware directories with -L first: QEMU
 * looks for bios-256k.bin, kvmvapic.bin, linuxboot_dma.bin and the like relative to
 * its executable, which is ld.so here (checked with strace: a q35 boot opens
 * bios-256k.bin, kvmvapic.bin and pvh.bin from the tree, nothing from the host's
 * /usr/share). QEMU_MODULE_DIR points at the tree's modules: QEMU would otherwise look
 * in the host's module directory, whose 7.2 modules (bookworm builds even TCG as one,
 * accel-tcg-x86_64.so) carry another build stamp.
 */
export function toolsTreeQemu(root: string): { argv0: string[]; env: Record<string, string> } {
  const r = (p: string) => path.join(root, p);
  return {
    argv0: [...throughTreeLoader(root, 'usr/bin/qemu-system-x86_64'), '-L', r('usr/share/qemu'), '-L', r('usr/share/seabios')],
    env: { QEMU_MODULE_DIR: r('usr/lib/x86_64-linux-gnu/qemu') },
  };
}

/** A program of the tree run by the tree's ld.so over the tree's libraries only. */
function throughTreeLoader(root: string, program: string): string[] {
  const r = (p: string) => path.join(root, p);
  return [r('usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'), '--library-path', [r('usr/lib/x86_64-linux-gnu'), r('usr/lib')].join(':'), r(program)];
}

async function load(dir: string, key: string): Promise<ToolsTree | undefined> {
  try {
    const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as ToolsTree;
    if (manifest.key !== key) return undefined;
    const root = path.join(dir, 'root');
    return { ...manifest, root };
  } catch {
    return undefined;
  }
}

export interface EnsureToolsTreeOptions {
  readonly suite?: string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
  readonly rebuild?: boolean;
  readonly cacheDir?: string;
}

/** The tools tree of `suite` (default sid), bootstrapped once with mmdebstrap (about 30 s) and cached. */
export async function ensureToolsTree(options: EnsureToolsTreeOptions = {}): Promise<ToolsTree> {
  const log = options.log ?? silentLog;
  const recipe = toolsTreeRecipe(options.suite ?? 'sid');
  const key = toolsTreeKey(recipe);
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'tools', key);
  return ensureCached({
    dir,
    what: `the ${recipe.suite} tools tree ${key}`,
    load: () => load(dir, key),
    log,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.rebuild ? { rebuild: true } : {}),
    build: async (staging) => {
      if (process.getuid?.() !== 0) throw new InfrastructureError('bootstrapping a tools tree needs root (mmdebstrap)', { hint: 'run as root once; later runs only read the cached tree' });
      const root = path.join(staging, 'root');
      await timedStep(log, `bootstrap the ${recipe.suite} tools tree (${recipe.packages.join(' ')}) with mmdebstrap`, async () => {
        const result = await execa('mmdebstrap', [...mmdebstrapOptions(recipe), recipe.suite, root, recipe.mirror], {
          reject: false,
          all: true,
          ...(options.signal ? { cancelSignal: options.signal } : {}),
        });
        if (result.failed) throw new InfrastructureError(`mmdebstrap of the ${recipe.suite} tools tree failed: ${result.shortMessage}`, { details: result.all?.slice(-8000) ?? '' });
      });
      const query = await execa('dpkg-query', [`--admindir=${path.join(root, 'var/lib/dpkg')}`, '-W', '-f=${Package}\t${Version}\n', ...recipe.packages], { reject: false });
      const versions = Object.fromEntries(
        query.stdout
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\t') as [string, string]),
      );
      await writeJson(path.join(staging, MANIFEST), { key, recipe, versions, createdAt: new Date().toISOString() });
    },
  });
}

/** The tree's QEMU as an Emulator, its version asked of the binary itself (which also proves it starts). */
export async function toolsTreeEmulator(tree: ToolsTree): Promise<Emulator> {
  const { argv0, env } = toolsTreeQemu(tree.root);
  const { file, args } = emulatorCommand({ argv0 }, ['--version']);
  const result = await execa(file, args, { env, reject: false, all: true });
  if (result.failed) throw new InfrastructureError(`the ${tree.recipe.suite} tools tree's QEMU does not start: ${result.shortMessage}`, { details: result.all ?? '' });
  return { name: tree.recipe.suite, argv0, env, version: parseQemuVersion(result.stdout) };
}

/**
 * Bochs from the tree runs inside it (chroot), in a mount namespace of its own where the
 * host's /tmp (the guests' temp dirs and sockets), the cache (image, snapshots), /dev and
 * /etc/hosts are bound at the same paths, so every path of a bochsrc is the same in and out. The
 * tree's loader alone does not do for Bochs as it does for QEMU: sid's bochs-bin links
 * wxWidgets, whose SDL2 is sdl2-compat, and that fails to load SDL3 through a borrowed
 * loader ("Failed loading SDL3 library.", SIGABRT). Root only (bind mounts); for
 * bench:emulators, which compares it with the host's Bochs. Bochs 3.1+dfsg-1 starts this
 * way and reads levelgate's bochsrc, but the v4 guest triple-faults after about 45 M
 * instructions, before the kernel's first console line (BENCHMARKS.md, "Bochs 3.1").
 */
const IN_TREE = [
  'root=$1; shift',
  'for d in /tmp "$LEVELGATE_CACHE" /dev; do mkdir -p "$root$d" && mount --rbind "$d" "$root$d" || exit 125; done',
  // Its serial ports are servers on localhost, which a bootstrapped root cannot resolve without /etc/hosts.
  'touch "$root/etc/hosts" && mount --bind /etc/hosts "$root/etc/hosts" || exit 125',
  'exec chroot "$root" /bin/sh -c \'cd "$0" && exec /usr/bin/bochs-bin "$@"\' "$PWD" "$@"',
].join('\n');

export function toolsTreeBochs(tree: Pick<ToolsTree, 'root' | 'versions' | 'recipe'>, cache: string = cacheRoot()): BochsProgram {
  return {
    name: tree.recipe.suite,
    argv0: ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', IN_TREE, 'bochs-in-tree', tree.root],
    env: { LEVELGATE_CACHE: cache },
    romImage: '/usr/share/bochs/BIOS-bochs-latest',
    vgaRomImage: '/usr/share/bochs/VGABIOS-lgpl-latest',
    version: tree.versions.bochs ?? 'unknown',
    debugger: true,
  };
}
