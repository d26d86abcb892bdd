// The recipe of the lean Bochs (pure): which Debian source package, how its download is
// checked (each file pinned by size and SHA-256, as the archive's signed Sources index
// lists them), the configure arguments and compiler flags, the build's commands, and the
// cache key of all of it (the programs it needs are in host/tools.ts, purpose
// 'bochs-build'). bochs-build.ts carries it out.
import { createHash } from 'node:crypto';

/** A file of a source package, with the size and SHA-256 the download must have. */
export interface SourceFile {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * A Debian source package: where its files lie in the archive's pool and what each must
 * hash to. The files are pinned themselves, not through the .dsc: the mirrors this
 * project runs against serve a release's tarballs but not always its .dsc.
 */
export interface SourcePackage {
  readonly name: string;
  readonly version: string;
  /** The release whose Sources index lists it (where the pins come from). */
  readonly suite: string;
  /** The folder under the mirror's root ("pool/main/b/bochs"). */
  readonly pool: string;
  /** The upstream tarball, then Debian's packaging (debian/, with debian/patches/series). */
  readonly orig: SourceFile;
  readonly debian: SourceFile;
}

export interface LeanBochsRecipe {
  readonly source: SourcePackage;
  readonly configure: readonly string[];
  readonly cflags: string;
  /** Bump when the steps change in a way the arguments do not show. */
  readonly layout: number;
  /** Not part of the key: where the source comes from, not what it is. */
  readonly mirror: string;
}

/**
 * Debian 13's Bochs 3.0 (trixie's `bochs` 3.0+dfsg-1; the pins are its Checksums-Sha256 in
 * dists/trixie/main/source/Sources). Not Debian 12's 2.7, whose orig tarball the mirror
 * does not serve (HTTP 404, also through `apt-get source`). 3.0 runs levelgate's v4 guest
 * with the same bochsrc and BIOS as the host's 2.7 (the Bochs e2e tests pass under it);
 * sid's 3.1 does not (it triple-faults at boot: BENCHMARKS.md, "Bochs 3.1").
 */
export const BOCHS_SOURCE: SourcePackage = {
  name: 'bochs',
  version: '3.0+dfsg-1',
  suite: 'trixie',
  pool: 'pool/main/b/bochs',
  orig: { name: 'bochs_3.0+dfsg.orig.tar.xz', size: 3896488, sha256: '78f6c73d4a6472d5130a87ab9dc306d02c7c71ed8e25b3a8ef642e2a7acd282b' },
  debian: { name: 'bochs_3.0+dfsg-1.debian.tar.xz', size: 30720, sha256: 'c68fe1162aa485249467ec93707ccbf5d039b00d12815899fc2c819ec16d00df' },
};

/**
 * What levelgate's v4 guests use (harness/guest/bochs-config.ts) and nothing that costs per
 * instruction: Debian's build adds the debugger, instrumentation, SMP (which turns the CPU's
 * static methods into calls through a pointer), VMX/SVM, memory types and the x86 debug
 * registers, and its debugger switches off handler chaining. The devices the bochsrc names
 * in plugin_ctrl (switched off there) and its `sound:` line stay compiled in, so both Bochs
 * builds read the same bochsrc. No -march: the cache may move to another host.
 */
export const LEAN_CONFIGURE: readonly string[] = [
  '--enable-x86-64',
  '--enable-cpu-level=6',
  '--enable-avx',
  '--enable-evex',
  '--enable-all-optimizations',
  '--enable-repeat-speedups',
  '--enable-a20-pin',
  '--enable-fpu',
  '--enable-pci',
  '--enable-e1000',
  '--enable-ne2000',
  '--enable-pnic',
  '--enable-sb16',
  '--enable-es1370',
  '--disable-cdrom',
  '--disable-docbook',
  '--disable-readline',
  '--without-x',
  '--without-x11',
  '--with-rfb',
];

export const LEAN_CFLAGS = '-O3 -fomit-frame-pointer -pipe';
const LAYOUT = 1;

export function leanBochsRecipe(env: NodeJS.ProcessEnv = process.env): LeanBochsRecipe {
  return { source: BOCHS_SOURCE, configure: LEAN_CONFIGURE, cflags: LEAN_CFLAGS, layout: LAYOUT, mirror: env.LEVELGATE_MIRROR ?? 'http://deb.debian.org/debian' };
}

/** The cache key: the source package and its pinned files, the configure arguments, the flags and the layout (not the mirror). */
export function leanBochsKey(recipe: LeanBochsRecipe): string {
  const inputs = { source: recipe.source, configure: recipe.configure, cflags: recipe.cflags, layout: recipe.layout };
  return `${recipe.source.version}-${createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 12)}`;
}

/** Why `bytes` is not `expected` (undefined when it is). */
export function checkDownload(name: string, bytes: Buffer, expected: { readonly size: number; readonly sha256: string }): string | undefined {
  if (bytes.length !== expected.size) return `${name}: ${bytes.length} bytes downloaded, the recipe pins ${expected.size}`;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return sha256 === expected.sha256 ? undefined : `${name}: SHA-256 ${sha256}, the recipe pins ${expected.sha256}`;
}

/** One command of the build, as an argument array (cwd: the unpacked tree when `inTree`, else the download folder). */
export interface BuildCommand {
  readonly title: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly inTree: boolean;
  readonly env?: Readonly<Record<string, string>>;
}

/** The folder the source is unpacked into, inside the download folder. */
export const SOURCE_TREE = 'src';

/** Unpacking: the upstream tarball into SOURCE_TREE (its top folder stripped), then Debian's debian/ into it. */
export function unpackCommands(recipe: LeanBochsRecipe): BuildCommand[] {
  return [
    { title: `unpack ${recipe.source.orig.name}`, file: 'tar', args: [`--one-top-level=${SOURCE_TREE}`, '--strip-components=1', '-xf', recipe.source.orig.name], inTree: false },
    { title: `unpack ${recipe.source.debian.name}`, file: 'tar', args: ['-xf', `../${recipe.source.debian.name}`], inTree: true },
  ];
}

/** The patches of debian/patches/series, in order (comments and blank lines skipped); throws on a name that leaves the folder. */
export function patchSeries(series: string): string[] {
  const names = series
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
  for (const name of names) if (name.split('/').includes('..') || name.startsWith('/')) throw new Error(`debian/patches/series names a patch outside debian/patches: ${name}`);
  return names;
}

/** Applying one of Debian's patches, as dpkg-source does for a 3.0 (quilt) package. */
export function patchCommand(name: string): BuildCommand {
  return { title: `apply debian/patches/${name}`, file: 'patch', args: ['-p1', '--forward', '--batch', '-i', `debian/patches/${name}`], inTree: true };
}

/** Compiling the patched tree: configure regenerated (as Debian's build does), configured with the recipe, Bochs built. */
export function compileCommands(recipe: LeanBochsRecipe, jobs: number): BuildCommand[] {
  return [
    { title: 'regenerate configure', file: 'autoreconf', args: ['-f', '-i'], inTree: true, env: { AUTOHEADER: 'true' } },
    { title: `configure ${recipe.configure.join(' ')}`, file: './configure', args: [...recipe.configure], inTree: true, env: { CFLAGS: recipe.cflags, CXXFLAGS: recipe.cflags } },
    { title: `make -j${jobs}`, file: 'make', args: [`-j${jobs}`, 'LIBTOOL=libtool', 'bochs'], inTree: true },
  ];
}
