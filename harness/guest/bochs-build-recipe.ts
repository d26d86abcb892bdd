// The recipe of the lean Bochs (pure): which Debian source package, how its download is
// checked (the .dsc pinned by its SHA-256, every file it lists by size and SHA-256), the
// configure arguments and compiler flags, the build's commands, and the cache key of all
// of it (the programs it needs are in host/tools.ts, purpose 'bochs-build'). bochs-build.ts carries it out.
import { createHash } from 'node:crypto';

/** A Debian source package: where its .dsc lies in the archive's pool and what it must hash to. */
export interface SourcePackage {
  readonly name: string;
  readonly version: string;
  /** The folder under the mirror's root ("pool/main/b/bochs"). */
  readonly pool: string;
  /** SHA-256 of the .dsc: the files it lists are checked against it, so it is the anchor. */
  readonly dscSha256: string;
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

/** Debian 12's Bochs, the one the host's `bochs` package is built from. */
export const BOCHS_SOURCE: SourcePackage = {
  name: 'bochs',
  version: '2.7+dfsg-4+deb12u1',
  pool: 'pool/main/b/bochs',
  dscSha256: '8d1f27e78b9da0e26e968a5e0ec4972686912afdb3c3f4299c4e1680c0eb0669',
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

/** The cache key: the source package, its .dsc digest, the configure arguments, the flags and the layout (not the mirror). */
export function leanBochsKey(recipe: LeanBochsRecipe): string {
  const inputs = { source: recipe.source, configure: recipe.configure, cflags: recipe.cflags, layout: recipe.layout };
  return `${recipe.source.version}-${createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 12)}`;
}

/** A file a .dsc lists, with the size and SHA-256 the download must have. */
export interface DscFile {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
}

/** The files of a .dsc's Checksums-Sha256 field; throws when it has none or a line is malformed. */
export function dscFiles(dsc: string): DscFile[] {
  const lines = dsc.split('\n');
  const start = lines.findIndex((l) => l === 'Checksums-Sha256:');
  if (start < 0) throw new Error('the .dsc has no Checksums-Sha256 field');
  const files: DscFile[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' ')) break;
    const m = /^ ([0-9a-f]{64}) (\d+) ([A-Za-z0-9.+~_-]+)$/.exec(line);
    if (!m) throw new Error(`the .dsc's Checksums-Sha256 has a malformed line: ${JSON.stringify(line)}`);
    files.push({ sha256: m[1]!, size: Number(m[2]), name: m[3]! });
  }
  if (files.length === 0) throw new Error("the .dsc's Checksums-Sha256 lists no file");
  return files;
}

/** Why `bytes` is not `expected` (undefined when it is). */
export function checkDownload(name: string, bytes: Buffer, expected: { readonly size: number; readonly sha256: string }): string | undefined {
  if (bytes.length !== expected.size) return `${name}: ${bytes.length} bytes downloaded, the .dsc says ${expected.size}`;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  return sha256 === expected.sha256 ? undefined : `${name}: SHA-256 ${sha256}, the .dsc says ${expected.sha256}`;
}

/** The build's commands after the download, in order, as argument arrays (cwd: the unpacked tree, except dpkg-source's). */
export function buildCommands(recipe: LeanBochsRecipe, dscName: string, jobs: number): { readonly title: string; readonly file: string; readonly args: readonly string[]; readonly inTree: boolean; readonly env?: Readonly<Record<string, string>> }[] {
  return [
    { title: "unpack the source package and apply Debian's patches", file: 'dpkg-source', args: ['--no-check', '-x', dscName, 'src'], inTree: false },
    { title: 'regenerate configure', file: 'autoreconf', args: ['-f', '-i'], inTree: true, env: { AUTOHEADER: 'true' } },
    { title: `configure ${recipe.configure.join(' ')}`, file: './configure', args: [...recipe.configure], inTree: true, env: { CFLAGS: recipe.cflags, CXXFLAGS: recipe.cflags } },
    { title: `make -j${jobs}`, file: 'make', args: [`-j${jobs}`, 'LIBTOOL=libtool', 'bochs'], inTree: true },
  ];
}
