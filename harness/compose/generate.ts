// Builds a generated compose (harness/compose/model.ts) as real RPMs in two createrepo_c
// repositories, releases/1 (N) and releases/2 (N+1), cached by its parameters. Fast at
// scale: each payload (a program or library copy per level) is compiled once and hard
// linked into every package that ships it; each rpmbuild run packages a chunk of one
// release and arch as subpackages (rpm 6.1 takes Version/Release per subpackage), the
// chunks spread over the host's cores, with nothing run that a generated package does not need.
import { createHash } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import type { ImageArtifacts } from '../image/build.js';
import { cacheRoot, ensureCached, exists, writeJson } from '../host/cache.js';
import { chrootIn, gcc, sourcePath, unpackGuestRoot, type Chroot } from '../fixtures/build.js';
import type { LevelName } from '../levels/table.js';
import { CleanupStack } from '../util/cleanup-stack.js';
import { InfrastructureError } from '../util/errors.js';
import { silentLog, timedStep, type Log } from '../util/log.js';
import { composeModel, RELEASES, variantNames, type ComposeBuild, type ComposeModel, type ComposeParams, type ReleaseName } from './model.js';

export interface GeneratedCompose {
  readonly digest: string;
  readonly dir: string;
  /** The createrepo_c repository of each release. */
  readonly releases: Readonly<Record<ReleaseName, string>>;
  readonly model: ComposeModel;
  /** Seconds each build step took when it was built (not when loaded from the cache). */
  readonly buildSeconds: Readonly<Record<string, number>>;
}

const SOURCES = ['compose-program.c', 'compose-lib.c', 'variant-level.h'] as const;

export async function composeDigest(params: ComposeParams, image: Pick<ImageArtifacts, 'digest'>): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(params));
  hash.update(image.digest);
  for (const name of SOURCES) hash.update(await readFile(sourcePath(name)));
  for (const file of ['./generate.js', './model.js']) hash.update(await readFile(fileURLToPath(new URL(file, import.meta.url))));
  return hash.digest('hex').slice(0, 16);
}

/** "NAME-VERSION-RELEASE.ARCH". */
export const buildNevra = (b: Pick<ComposeBuild, 'name' | 'version' | 'release' | 'arch'>): string => `${b.name}-${b.version}-${b.release}.${b.arch}`;

/** The files a build ships, as paths in its root, each with the payload file it is (a hard link) or its text. */
export function buildFiles(build: ComposeBuild): { path: string; payload?: string; text?: string }[] {
  const identity = `${build.name} ${build.version}-${build.release} ${build.arch}\n`;
  switch (build.payload.kind) {
    case 'program':
      return [
        { path: `/usr/bin/${build.name}`, payload: `program-${build.payload.level}` },
        { path: `/usr/share/lgc/id/${build.name}`, text: identity },
      ];
    case 'library': {
      const { soname } = build.payload;
      return build.payload.copies.map((c) => ({ path: `/usr/lib64/${c.hwcaps ? `glibc-hwcaps/${c.hwcaps}/` : ''}${soname}`, payload: libraryPayload(c.level, c.hwcaps) }));
    }
    case 'data':
      return [{ path: `/usr/share/lgc/data/${build.name}/README`, text: identity }];
  }
}

const libraryPayload = (level: LevelName, hwcaps: string): string => `library-${level}-${hwcaps || 'baseline'}.so`;

/**
 * A chunk of one release and arch: the builds one rpmbuild run packages. rpmbuild's cost is
 * per subpackage (file classification, header, payload), so chunks let the runs spread
 * over the host's cores.
 */
export interface ComposeChunk {
  /** "RELEASE-ARCH-INDEX": the spec's, the source tree's and the top directory's name. */
  readonly key: string;
  readonly release: ReleaseName;
  readonly arch: string;
  readonly builds: readonly ComposeBuild[];
}

/** Builds per rpmbuild run: enough that the run's fixed cost (start-up, spec parse) is small, few enough to spread. */
export const CHUNK_BUILDS = 400;

/** Every build of the model in chunks of one release and arch, at most `size` builds each (pure). */
export function composeChunks(model: ComposeModel, size = CHUNK_BUILDS): ComposeChunk[] {
  const chunks: ComposeChunk[] = [];
  for (const release of RELEASES) {
    const byArch = new Map<string, ComposeBuild[]>();
    for (const b of model.releases[release]) byArch.set(b.arch, [...(byArch.get(b.arch) ?? []), b]);
    for (const [arch, builds] of byArch) {
      for (let i = 0; i < builds.length; i += size) chunks.push({ key: `${release}-${arch}-${i / size}`, release, arch, builds: builds.slice(i, i + size) });
    }
  }
  return chunks;
}

/** The spec of one chunk, each build a subpackage with its own version (pure). */
export function composeSpec({ key, release, arch, builds }: ComposeChunk): string {
  const lines = [
    `Name: lgc-compose-${key}`,
    'Version: 0',
    `Release: ${release}`,
    'Summary: levelgate generated compose',
    'License: MIT',
    ...(arch === 'noarch' ? ['BuildArch: noarch'] : []),
    '%global _binary_payload w3.zstdio',
    // The guest's libraries are dpkg's: automatic requirements could never be met.
    'AutoReqProv: no',
    '%description',
    'levelgate generated compose.',
  ];
  for (const b of builds) {
    lines.push(`%package -n ${b.name}`, `Version: ${b.version}`, `Release: ${b.release}`, `Summary: levelgate compose package ${b.name}`, 'AutoReqProv: no');
    for (const r of b.requires) lines.push(`Requires: ${r}`);
    for (const p of b.provides) lines.push(`Provides: ${p}`);
    lines.push(`%description -n ${b.name}`, `levelgate compose package ${buildNevra(b)}.`);
  }
  // Hard links into the build root: the staged tree is already the payload, nothing is copied.
  lines.push('%install', `cp -al /build/src/${key}/. %{buildroot}/`);
  for (const b of builds) lines.push(`%files -n ${b.name}`, ...buildFiles(b).map((f) => f.path));
  return `${lines.join('\n')}\n`;
}

/**
 * rpmbuild's arguments for one chunk. Nothing a generated package does not need runs:
 * no debuginfo, strip, build-id links or brp scripts (__os_install_post), and OpenMP
 * (rpm 6 packages subpackages in parallel threads) waits passively on one thread, since
 * libgomp's spinning threads took most of the CPU on a busy host; chunks run in parallel instead.
 */
export function rpmbuildArgs({ key, arch }: Pick<ComposeChunk, 'key' | 'arch'>): string[] {
  return [
    'env', 'OMP_WAIT_POLICY=passive', 'OMP_NUM_THREADS=1',
    'rpmbuild', '--quiet', '-bb',
    ...(arch === 'noarch' ? [] : ['--target', arch]),
    '--define', `_topdir /build/top/${key}`,
    '--define', 'debug_package %{nil}',
    '--define', '__strip /bin/true',
    '--define', '_build_id_links none',
    '--define', '__os_install_post %{nil}',
    `/build/specs/${key}.spec`,
  ];
}

export interface EnsureComposeOptions {
  readonly cacheDir?: string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
}

/** The compose of `params`, from the cache or built (needs root: rpmbuild runs chrooted in the guest root). */
export async function ensureCompose(params: ComposeParams, image: ImageArtifacts, options: EnsureComposeOptions = {}): Promise<GeneratedCompose> {
  const model = composeModel(params);
  const digest = await composeDigest(params, image);
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'composes', digest);
  const log = options.log ?? silentLog;
  return ensureCached({
    dir,
    what: `compose ${digest} (${params.packages} packages)`,
    load: async () => {
      if (!(await exists(path.join(dir, 'manifest.json')))) return undefined;
      const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { buildSeconds: Record<string, number> };
      return { digest, dir, releases: { '1': path.join(dir, 'releases/1'), '2': path.join(dir, 'releases/2') }, model, buildSeconds: manifest.buildSeconds };
    },
    build: (staging) => buildCompose(model, image, digest, staging, log, options.signal),
    log,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** One compose build's shared state: the unpacked guest root, its chroot, the chunks, the output directory. */
interface ComposeBuildContext {
  readonly model: ComposeModel;
  readonly buildroot: string;
  readonly payloadDir: string;
  readonly chunks: readonly ComposeChunk[];
  readonly chroot: Chroot;
  readonly out: string;
}

const march = (level: LevelName): string => (level === 'v1' ? 'x86-64' : `x86-64-${level}`);

/** gcc's arguments for every shared payload the model's builds ship, by payload file name (pure). */
export function payloadSources(model: ComposeModel): Map<string, string[]> {
  const wanted = new Map<string, string[]>();
  for (const b of RELEASES.flatMap((r) => model.releases[r])) {
    if (b.payload.kind === 'program') wanted.set(`program-${b.payload.level}`, [`-march=${march(b.payload.level)}`, `-DLG_LEVEL=${b.payload.level.slice(1)}`, sourcePath('compose-program.c')]);
    if (b.payload.kind !== 'library') continue;
    for (const c of b.payload.copies) {
      wanted.set(libraryPayload(c.level, c.hwcaps), ['-shared', '-fPIC', `-march=${march(c.level)}`, `-DLG_LEVEL=${c.level.slice(1)}`, `-DLG_VARIANT="${c.hwcaps || 'baseline'}"`, sourcePath('compose-lib.c')]);
    }
  }
  return wanted;
}

async function compilePayloads({ model, payloadDir }: ComposeBuildContext): Promise<void> {
  await mkdir(payloadDir, { recursive: true });
  await Promise.all([...payloadSources(model)].map(([file, args]) => gcc([...args, '-o', path.join(payloadDir, file)])));
}

/** Each chunk's files as hard links to the payloads (or small texts), and its spec; many file operations at once. */
async function stageChunks({ buildroot, payloadDir, chunks }: ComposeBuildContext): Promise<void> {
  await mkdir(path.join(buildroot, 'build/specs'), { recursive: true });
  const queue = new PQueue({ concurrency: 64 });
  for (const chunk of chunks) {
    const tree = path.join(buildroot, 'build/src', chunk.key);
    const files = chunk.builds.flatMap(buildFiles);
    await Promise.all([...new Set(files.map((f) => path.dirname(path.join(tree, f.path))))].map((dir) => mkdir(dir, { recursive: true })));
    await Promise.all(files.map((f) => queue.add(() => (f.payload ? link(path.join(payloadDir, f.payload), path.join(tree, f.path)) : writeFile(path.join(tree, f.path), f.text ?? '')))));
    await writeFile(path.join(buildroot, 'build/specs', `${chunk.key}.spec`), composeSpec(chunk));
  }
}

async function packageChunks({ chunks, chroot }: ComposeBuildContext): Promise<void> {
  const queue = new PQueue({ concurrency: os.availableParallelism() });
  await Promise.all(chunks.map((chunk) => queue.add(() => chroot(rpmbuildArgs(chunk)))));
}

/** Every chunk's RPMs moved into its release's repository, each checked by name; createrepo_c per release. */
async function publishReleases({ buildroot, chunks, chroot, out }: ComposeBuildContext): Promise<void> {
  await Promise.all(
    RELEASES.map(async (release) => {
      const repo = path.join(buildroot, 'build/repos', release);
      await mkdir(path.join(repo, 'Packages'), { recursive: true });
      for (const chunk of chunks.filter((c) => c.release === release)) {
        const rpms = path.join(buildroot, 'build/top', chunk.key, 'RPMS', chunk.arch);
        const made = new Set(await readdir(rpms).catch(() => []));
        for (const b of chunk.builds) {
          const file = `${buildNevra(b)}.rpm`;
          if (!made.has(file)) throw new InfrastructureError(`rpmbuild made no ${file} (in ${rpms})`);
          await rename(path.join(rpms, file), path.join(repo, 'Packages', file));
        }
      }
      await chroot(['createrepo_c', '--quiet', `--workers=${os.availableParallelism()}`, '--general-compress-type=gz', '--no-database', `/build/repos/${release}`]);
    }),
  );
  await rename(path.join(buildroot, 'build/repos'), path.join(out, 'releases'));
}

async function buildCompose(model: ComposeModel, image: ImageArtifacts, digest: string, out: string, log: Log, signal?: AbortSignal): Promise<void> {
  if (process.getuid?.() !== 0) throw new InfrastructureError('building a compose needs root (chroot into the guest root for rpmbuild)');
  const buildroot = path.join(out, 'buildroot');
  await using stack = new CleanupStack();
  stack.defer('remove the unpacked guest root', () => rm(buildroot, { recursive: true, force: true }));
  const chunks = composeChunks(model);
  const context: ComposeBuildContext = { model, buildroot, payloadDir: path.join(buildroot, 'build/payload'), chunks, chroot: chrootIn(buildroot, 'compose', signal), out };
  const total = chunks.reduce((n, c) => n + c.builds.length, 0);
  log(`building compose ${digest}: ${model.params.packages} packages a release, ${variantNames(model).length} variant names, ${total} RPMs`);
  const steps: [key: string, name: string, run: () => Promise<void>][] = [
    ['unpack', 'unpack the guest root for rpmbuild (debugfs rdump, read-only)', () => unpackGuestRoot(image, buildroot, signal)],
    ['compile', 'compile the shared payloads (one per level and library directory)', () => compilePayloads(context)],
    ['stage', `stage ${total} packages' files (hard links to the payloads)`, () => stageChunks(context)],
    ['rpmbuild', `package ${total} RPMs (${chunks.length} rpmbuild runs, ${os.availableParallelism()} at a time)`, () => packageChunks(context)],
    ['createrepo', 'publish both releases (createrepo_c)', () => publishReleases(context)],
  ];
  const seconds: Record<string, number> = {};
  for (const [key, name, run] of steps) {
    const started = performance.now();
    await timedStep(log, name, run);
    seconds[key] = Math.round((performance.now() - started) / 100) / 10;
  }
  await writeJson(path.join(out, 'manifest.json'), { digest, image: image.digest, params: model.params, builtAt: new Date().toISOString(), buildSeconds: seconds, rpms: total, names: variantNames(model) });
}
