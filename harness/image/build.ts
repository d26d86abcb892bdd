// Builds the default guest image from Debian packages and nothing else, as a list of
// named steps in a staging directory that is published into the cache only when
// complete. An unchanged recipe is a cache hit; a concurrent build of the same recipe
// waits for the first one.
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { requireTools } from '../host/tools.js';
import { CleanupStack } from '../util/cleanup-stack.js';
import { InfrastructureError } from '../util/errors.js';
import { silentLog, timedStep, type Log } from '../util/log.js';
import { cacheRoot, ensureCached, exists, writeJson } from '../host/cache.js';
import { assembleBootSector, writeBochsBootDisk, type BochsBootLayout } from './bochs-boot-disk.js';
import { extractVmlinux } from './kernel.js';
import { moduleClosure, moduleName, parseModulesDep, stripModuleSignature } from './modules.js';
import { APT_VARIANTS_FILE, DPKG_IMAGE_LIST } from '../drivers/apt.js';
import { PACMAN_CONF, PACMAN_OPTIONS_FILE, pacmanArchitecture, pacmanConf } from '../drivers/pacman.js';
import { APT_TEST_VARIANTTABLE } from '../drivers/detectors.js';
import { defaultRecipe, guestSourcePath, recipeDigest, type ImageRecipe } from './recipe.js';

export interface ImageManifest {
  readonly digest: string;
  readonly recipe: ImageRecipe;
  readonly builtAt: string;
  readonly buildSeconds: number;
  readonly kernel: { readonly release: string; readonly packages: readonly string[] };
  /** Every Debian package in the guest root with its exact version. */
  readonly packages: Readonly<Record<string, string>>;
  readonly modules: { readonly initramfs: readonly string[]; readonly initramfsAta: readonly string[]; readonly root: readonly string[]; readonly builtIn: readonly string[] };
  readonly rootDiskBytes: number;
  /** Where the Bochs boot disk puts the kernel and initramfs, and the kernel's PVH entry. */
  readonly bochsBoot: BochsBootLayout;
}

export interface ImageArtifacts {
  readonly digest: string;
  readonly dir: string;
  /** Uncompressed ELF kernel (PVH entry). */
  readonly kernel: string;
  readonly initrd: string;
  /** The base root disk (raw ext4). Guests only ever read it, through their own overlay. */
  readonly rootDisk: string;
  /** Boot sector, flat kernel and initramfs for Bochs (bochs-boot-disk.ts). */
  readonly bochsBootDisk: string;
  readonly manifest: ImageManifest;
}

export interface EnsureImageOptions {
  readonly recipe?: ImageRecipe;
  readonly cacheDir?: string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
  /** Build even when the cache has the image. */
  readonly rebuild?: boolean;
}

const FILES = { kernel: 'vmlinux', initrd: 'initramfs.cpio', rootDisk: 'root.img', bochsBootDisk: 'bochs-boot.img', manifest: 'manifest.json' } as const;

export async function imagePaths(options: Pick<EnsureImageOptions, 'recipe' | 'cacheDir'> = {}): Promise<{ digest: string; dir: string }> {
  const recipe = options.recipe ?? defaultRecipe();
  const digest = await recipeDigest(recipe);
  return { digest, dir: path.join(options.cacheDir ?? cacheRoot(), 'images', digest) };
}

/** The cached image for this recipe, or undefined when it has not been built. */
export async function findImage(options: Pick<EnsureImageOptions, 'recipe' | 'cacheDir'> = {}): Promise<ImageArtifacts | undefined> {
  const { digest, dir } = await imagePaths(options);
  if (!(await exists(path.join(dir, FILES.manifest)))) return undefined;
  const manifest = JSON.parse(await readFile(path.join(dir, FILES.manifest), 'utf8')) as ImageManifest;
  return {
    digest,
    dir,
    kernel: path.join(dir, FILES.kernel),
    initrd: path.join(dir, FILES.initrd),
    rootDisk: path.join(dir, FILES.rootDisk),
    bochsBootDisk: path.join(dir, FILES.bochsBootDisk),
    manifest,
  };
}

/** Returns the cached image, building it first when the cache does not have it. */
export async function ensureImage(options: EnsureImageOptions = {}): Promise<ImageArtifacts> {
  const log = options.log ?? silentLog;
  const { digest, dir } = await imagePaths(options);
  return ensureCached({
    dir,
    what: `image ${digest}`,
    load: () => findImage(options),
    build: (staging) => buildImage(options.recipe ?? defaultRecipe(), digest, staging, log, options.signal),
    log,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.rebuild ? { rebuild: true } : {}),
  });
}

async function run(command: string, args: readonly string[], options: { signal?: AbortSignal; env?: Record<string, string>; cwd?: string; input?: string } = {}): Promise<string> {
  const result = await execa(command, args, {
    reject: false,
    all: true,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  if (result.isCanceled) throw new InfrastructureError(`image build interrupted during: ${result.escapedCommand}`);
  if (result.failed) {
    const tail = (result.all ?? '').split('\n').slice(-30).join('\n');
    throw new InfrastructureError(`image build step failed: ${result.escapedCommand} (${result.shortMessage})`, { details: tail });
  }
  return result.stdout;
}

async function walk(dir: string, prefix = '.'): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const rel = `${prefix}/${entry.name}`;
    out.push(rel);
    if (entry.isDirectory()) out.push(...(await walk(path.join(dir, entry.name), rel)));
  }
  return out;
}

/** Where a build works: the root tree, the downloaded kernel packages and their unpacked tree (none of them published). */
interface WorkDirs {
  readonly root: string;
  readonly debs: string;
  readonly kernelTree: string;
  readonly initramfs: string;
  readonly scratch: string;
}

/** The kernel the image boots: its release, the packages it came from, and its modules directory. */
interface KernelTree {
  readonly release: string;
  readonly packages: readonly string[];
  readonly modulesDir: string;
}

type Run = { signal?: AbortSignal };

/**
 * The image build as mkosi's build_image: a flat list of named, timed steps filling
 * `out` (the cache's staging directory, published by ensureCached), working in a
 * sibling directory removed whatever happens.
 */
async function buildImage(recipe: ImageRecipe, digest: string, out: string, log: Log, signal?: AbortSignal): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new InfrastructureError('building the guest image needs root (mmdebstrap, chroot and device nodes in the root tree)', {
      hint: 'run as root once; later runs only read the cached image',
    });
  }
  await requireTools(['image', 'guests']);
  const started = performance.now();
  const opts: Run = signal ? { signal } : {};
  const work = `${out}.work`;
  const dirs: WorkDirs = { root: path.join(work, 'root'), debs: path.join(work, 'debs'), kernelTree: path.join(work, 'kernel'), initramfs: path.join(work, 'initramfs'), scratch: work };
  await using stack = new CleanupStack();
  stack.defer('remove the work directory', () => rm(work, { recursive: true, force: true }));
  await rm(work, { recursive: true, force: true });
  await Promise.all([dirs.debs, dirs.kernelTree].map((d) => mkdir(d, { recursive: true })));
  log(`building guest image ${digest} (Debian ${recipe.suite}, ${recipe.packages.join(' ')})`);

  await timedStep(log, `bootstrap Debian ${recipe.suite} root with mmdebstrap`, () => bootstrapRoot(recipe, dirs, opts));
  const kernelDebs = (await readdir(dirs.debs)).filter((f) => f.endsWith('.deb')).sort();
  const kernel = await timedStep(log, `unpack kernel (${kernelDebs.join(', ')})`, () => unpackKernel(kernelDebs, dirs, opts));
  await timedStep(log, `unpack the ELF kernel ${kernel.release}`, () => unpackElfKernel(kernel, dirs, out));
  const modules = await timedStep(log, 'install kernel modules and compute load order', () => installModules(recipe, kernel, dirs.root, opts));
  await timedStep(log, 'compile the guest agent and canaries (gcc -march=x86-64 -static)', () => compileGuestPrograms(dirs.root, opts));
  await timedStep(log, 'configure the root (rpm database path, zypper system check, dnf5 repositories and plugins, hostname)', () => configureRoot(dirs.root, opts));
  await timedStep(log, 'configure apt (varianttable, "auto" variants) and pacman (Architecture = auto, no repositories)', () => configureAptAndPacman(dirs.root));
  await timedStep(log, 'build the initramfs (busybox, boot modules, init)', () => buildInitramfs(kernel, modules, dirs, out, opts));
  const bochsBoot = await timedStep(log, 'make the Bochs boot disk (boot sector, flat kernel, initramfs)', () => makeBochsBootDisk(dirs, out));
  const packages = await timedStep(log, "record package versions (and the image's dpkg packages for the apt driver)", () => recordPackages(dirs.root, opts));
  await timedStep(log, `make the ${recipe.diskSizeMiB} MiB root disk (mkfs.ext4 -d)`, () => makeRootDisk(recipe, dirs.root, out, opts));

  const manifest: ImageManifest = {
    digest,
    recipe,
    builtAt: new Date().toISOString(),
    buildSeconds: Math.round((performance.now() - started) / 100) / 10,
    kernel: { release: kernel.release, packages: kernel.packages },
    packages,
    modules: {
      initramfs: modules.boot.ordered.map(moduleName),
      initramfsAta: modules.ata.ordered.map(moduleName),
      root: modules.extra.ordered.map(moduleName),
      builtIn: [...new Set([...modules.boot.notModules, ...modules.ata.notModules, ...modules.extra.notModules])],
    },
    rootDiskBytes: (await stat(path.join(out, FILES.rootDisk))).size,
    bochsBoot,
  };
  await writeJson(path.join(out, FILES.manifest), manifest);
  log(`image ${digest} built in ${manifest.buildSeconds} s`);
}

async function bootstrapRoot(recipe: ImageRecipe, dirs: WorkDirs, opts: Run): Promise<void> {
  await run(
    'mmdebstrap',
    [
      '--variant=essential',
      `--include=${recipe.packages.join(',')}`,
      // sid's Release file on the mirror can be past its Valid-Until date.
      '--aptopt=Acquire::Check-Valid-Until "false"',
      `--customize-hook=${guestSourcePath('fetch-kernel.sh')}`,
      recipe.suite,
      dirs.root,
      recipe.mirror,
    ],
    { ...opts, env: { LEVELGATE_DEBS: dirs.debs, LEVELGATE_KERNEL_PACKAGE: recipe.kernelPackage } },
  );
}

async function unpackKernel(kernelDebs: readonly string[], dirs: WorkDirs, opts: Run): Promise<KernelTree> {
  for (const deb of kernelDebs) await run('dpkg-deb', ['-x', path.join(dirs.debs, deb), dirs.kernelTree], opts);
  for (const modulesDir of ['usr/lib/modules', 'lib/modules']) {
    const releases = await readdir(path.join(dirs.kernelTree, modulesDir)).catch(() => [] as string[]);
    if (releases.length === 1) return { release: releases[0]!, packages: kernelDebs, modulesDir: path.join(dirs.kernelTree, modulesDir, releases[0]!) };
  }
  throw new InfrastructureError(`kernel packages ${kernelDebs.join(', ')} hold no single /usr/lib/modules/RELEASE`);
}

async function unpackElfKernel(kernel: KernelTree, dirs: WorkDirs, out: string): Promise<void> {
  const candidates = [path.join(kernel.modulesDir, 'vmlinuz'), path.join(dirs.kernelTree, 'boot', `vmlinuz-${kernel.release}`)];
  for (const vmlinuz of candidates) {
    if (await exists(vmlinuz)) return extractVmlinux(vmlinuz, path.join(out, FILES.kernel));
  }
  throw new InfrastructureError(`no vmlinuz in ${candidates.join(' or ')}`);
}

type ModuleSets = { readonly boot: ReturnType<typeof moduleClosure>; readonly ata: ReturnType<typeof moduleClosure>; readonly extra: ReturnType<typeof moduleClosure> };

/** The modules the guest needs, in the root with their dependency data: the boot sets (virtio, IDE) and the root's. */
async function installModules(recipe: ImageRecipe, kernel: KernelTree, root: string, opts: Run): Promise<ModuleSets> {
  const rootModules = path.join(root, 'usr/lib/modules', kernel.release);
  await mkdir(rootModules, { recursive: true });
  await run('cp', ['-a', path.join(kernel.modulesDir, 'kernel'), rootModules], opts);
  await run('chroot', [root, 'depmod', kernel.release], opts);
  const deps = parseModulesDep(await readFile(path.join(rootModules, 'modules.dep'), 'utf8'));
  const sets = { boot: moduleClosure(deps, recipe.bootModules), ata: moduleClosure(deps, recipe.ataBootModules), extra: moduleClosure(deps, recipe.rootModules) };
  const keep = new Set([...sets.boot.ordered, ...sets.ata.ordered, ...sets.extra.ordered]);
  // Keep only what the guest needs: the whole tree is ~120 MB of compressed modules.
  await rm(path.join(rootModules, 'kernel'), { recursive: true });
  for (const rel of keep) {
    await mkdir(path.dirname(path.join(rootModules, rel)), { recursive: true });
    await copyFile(path.join(kernel.modulesDir, rel), path.join(rootModules, rel));
  }
  await run('chroot', [root, 'depmod', kernel.release], opts);
  return sets;
}

async function compileGuestPrograms(root: string, opts: Run): Promise<void> {
  const bin = path.join(root, 'usr/lib/levelgate');
  await mkdir(bin, { recursive: true });
  for (const [source, output] of [['agent.c', 'agent'], ['canary.c', 'canary']] as const) {
    await run('gcc', ['-O2', '-march=x86-64', '-static', '-Wall', '-Werror', '-o', path.join(bin, output), guestSourcePath(source)], opts);
  }
}

async function configureRoot(root: string, opts: Run): Promise<void> {
  // Debian's rpm keeps its database under ~/.rpmdb unless told otherwise.
  await mkdir(path.join(root, 'etc/rpm'), { recursive: true });
  await writeFile(path.join(root, 'etc/rpm/macros.levelgate'), '%_dbpath /var/lib/rpm\n');
  await mkdir(path.join(root, 'var/lib/rpm'), { recursive: true });
  await run('chroot', [root, 'rpmdb', '--initdb'], opts);
  await writeFile(path.join(root, 'etc/hostname'), 'levelgate\n');
  // dnf5 reads repositories from here; levelgate writes exactly the enabled ones into one file.
  await mkdir(path.join(root, 'etc/yum.repos.d'), { recursive: true });
  // Debian's libdnf5 enables its "local" plugin, which copies every installed package
  // into a repository of its own and runs createrepo after each transaction: an extra
  // repository the solver sees (Fedora does not install the plugin by default), and
  // seconds per transaction under emulation.
  await writeFile(path.join(root, 'etc/dnf/libdnf5-plugins/local.conf'), '[main]\nname = local\n# levelgate: off (not part of what is tested; Fedora does not install it by default)\nenabled = 0\n');
  // libzypp refuses any transaction while its system check "requires:glibc" is unmet;
  // in this Debian guest glibc belongs to dpkg, and rpm's database never holds it.
  await writeFile(
    path.join(root, 'etc/zypp/systemCheck'),
    '## levelgate: glibc is installed by dpkg in this Debian guest, not by rpm,\n## so the default "requires:glibc" would block every zypper transaction.\n',
  );
}

/** busybox, init and the boot modules (one load order per disk kind: virtio for QEMU in modules/order, IDE for Bochs in modules/order.ata), as a reproducible cpio. */
async function buildInitramfs(kernel: KernelTree, modules: ModuleSets, dirs: WorkDirs, out: string, opts: Run): Promise<void> {
  const { initramfs, root } = dirs;
  for (const d of ['bin', 'modules', 'proc', 'sys', 'dev', 'newroot']) await mkdir(path.join(initramfs, d), { recursive: true });
  await copyFile(path.join(root, 'usr/bin/busybox'), path.join(initramfs, 'bin/busybox'));
  await chmod(path.join(initramfs, 'bin/busybox'), 0o755);
  await copyFile(guestSourcePath('initramfs-init.sh'), path.join(initramfs, 'init'));
  await chmod(path.join(initramfs, 'init'), 0o755);
  for (const [list, closure] of [['order', modules.boot], ['order.ata', modules.ata]] as const) {
    const order: string[] = [];
    for (const rel of closure.ordered) {
      const file = `${moduleName(rel)}.ko`;
      const source = path.join(kernel.modulesDir, rel);
      // busybox insmod takes plain .ko files only.
      const dest = path.join(initramfs, 'modules', file);
      const decompressor = rel.endsWith('.xz') ? 'xz' : rel.endsWith('.zst') ? 'zstd' : undefined;
      if (!(await exists(dest))) {
        const unpacked = decompressor ? (await execa(decompressor, ['-dc', source], { encoding: 'buffer', ...(opts.signal ? { cancelSignal: opts.signal } : {}) })).stdout : await readFile(source);
        await writeFile(dest, stripModuleSignature(Buffer.from(unpacked)));
      }
      order.push(file);
    }
    await writeFile(path.join(initramfs, 'modules', list), order.map((m) => `${m}\n`).join(''));
  }
  const list = (await walk(initramfs)).sort().join('\n');
  await execa('cpio', ['--quiet', '-o', '-H', 'newc', '--reproducible'], {
    cwd: initramfs,
    input: `${list}\n`,
    stdout: { file: path.join(out, FILES.initrd) },
    ...(opts.signal ? { cancelSignal: opts.signal } : {}),
  });
}

async function makeBochsBootDisk(dirs: WorkDirs, out: string): Promise<BochsBootLayout> {
  const layout = await writeBochsBootDisk({
    bootSector: await assembleBootSector(guestSourcePath('bochs-boot.S'), dirs.scratch),
    kernelPath: path.join(out, FILES.kernel),
    initrdPath: path.join(out, FILES.initrd),
    diskPath: path.join(out, FILES.bochsBootDisk),
  });
  await chmod(path.join(out, FILES.bochsBootDisk), 0o444);
  return layout;
}

/** Every Debian package's version, and the image's own dpkg packages (what the apt driver's installed set leaves out). */
async function recordPackages(root: string, opts: Run): Promise<Record<string, string>> {
  const listing = await run('chroot', [root, 'dpkg-query', '-W', '-f=${Package}\t${Version}\n'], opts);
  const own = await run('chroot', [root, 'dpkg-query', '-W', '-f=${db:Status-Abbrev}|${Package} ${Version} ${Architecture} ${Architecture-Variant}\n'], opts);
  await writeFile(path.join(root, DPKG_IMAGE_LIST.slice(1)), own.split('\n').flatMap((l) => (l.startsWith('ii') ? [`${l.slice(l.indexOf('|') + 1)}\n`] : [])).join(''));
  return Object.fromEntries(listing.split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]));
}

/** The root tree as a raw ext4 disk, read-only: the base is only ever read through overlays, so an accidental write fails loudly. */
async function makeRootDisk(recipe: ImageRecipe, root: string, out: string, opts: Run): Promise<void> {
  await run('mkfs.ext4', ['-q', '-F', '-L', 'levelgate-root', '-d', root, path.join(out, FILES.rootDisk), `${recipe.diskSizeMiB}M`], opts);
  await chmod(path.join(out, FILES.rootDisk), 0o444);
}

/**
 * apt reads the psABI varianttable (Debian's dpkg ships none) with "auto" variants, the
 * guest's /proc/cpuinfo deciding; apt's own test table sits beside it for its detector.
 * Downloads run as root (the fixtures' files are root's). pacman gets a pacman.conf
 * with no repository and `Architecture = auto` in the options file an override rewrites.
 */
async function configureAptAndPacman(root: string): Promise<void> {
  await copyFile(guestSourcePath('varianttable'), path.join(root, 'usr/share/dpkg/varianttable'));
  await mkdir(path.join(root, path.dirname(APT_TEST_VARIANTTABLE).slice(1)), { recursive: true });
  await copyFile(guestSourcePath('apt-test-varianttable'), path.join(root, APT_TEST_VARIANTTABLE.slice(1)));
  await writeFile(path.join(root, APT_VARIANTS_FILE.slice(1)), '// levelgate: variants chosen by the varianttable and /proc/cpuinfo\nAPT::Architecture-Variants "auto";\n');
  await writeFile(
    path.join(root, 'etc/apt/apt.conf.d/01levelgate'),
    '// levelgate: file: repositories of root-owned fixtures; no translations to fetch\nAPT::Sandbox::User "root";\nAcquire::Languages "none";\n',
  );
  await mkdir(path.join(root, path.dirname(PACMAN_OPTIONS_FILE).slice(1)), { recursive: true });
  await writeFile(path.join(root, PACMAN_OPTIONS_FILE.slice(1)), pacmanArchitecture('default')!);
  await writeFile(path.join(root, PACMAN_CONF.slice(1)), pacmanConf([]));
}
