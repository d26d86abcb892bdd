// Builds a generated compose (harness/compose/model.ts) as real RPMs in two createrepo_c
// repositories, releases/1 (N) and releases/2 (N+1), cached by its parameters. Fast at
// scale: each payload (a program or library copy per level) is compiled once and hard
// linked into every package that ships it; one rpmbuild per release and arch builds
// every package of it as a subpackage (rpm 6.1 takes Version/Release per subpackage).
import { createHash } from 'node:crypto';
import { link, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import PQueue from 'p-queue';
import type { ImageArtifacts } from '../image/build.js';
import { cacheRoot, ensureCached, exists, writeJson } from '../host/cache.js';
import { chrootIn, gcc, sourcePath, unpackGuestRoot } from '../fixtures/build.js';
import type { LevelName } from '../levels/table.js';
import { CleanupStack } from '../util/cleanup-stack.js';
import { InfrastructureError } from '../util/errors.js';
import { silentLog, timedStep, type Log } from '../util/log.js';
import { composeModel, RELEASES, type ComposeBuild, type ComposeModel, type ComposeName, type ComposeParams, type ReleaseName } from './model.js';

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

/** The spec of every build of one release and arch, each a subpackage with its own version (pure). */
export function composeSpec(release: ReleaseName, arch: string, builds: readonly ComposeBuild[]): string {
  const lines = [
    `Name: lgc-compose-${release}-${arch}`,
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
  lines.push('%install', `cp -a /build/src/${release}-${arch}/. %{buildroot}/`);
  for (const b of builds) lines.push(`%files -n ${b.name}`, ...buildFiles(b).map((f) => f.path));
  return `${lines.join('\n')}\n`;
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

async function buildCompose(model: ComposeModel, image: ImageArtifacts, digest: string, out: string, log: Log, signal?: AbortSignal): Promise<void> {
  if (process.getuid?.() !== 0) throw new InfrastructureError('building a compose needs root (chroot into the guest root for rpmbuild)');
  const seconds: Record<string, number> = {};
  const step = async <T>(name: string, key: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await timedStep(log, name, fn);
    seconds[key] = Math.round((performance.now() - started) / 100) / 10;
    return result;
  };
  const buildroot = path.join(out, 'buildroot');
  await using stack = new CleanupStack();
  stack.defer('remove the unpacked guest root', () => rm(buildroot, { recursive: true, force: true }));
  const chroot = chrootIn(buildroot, 'compose', signal);
  const total = RELEASES.reduce((n, r) => n + model.releases[r].length, 0);
  log(`building compose ${digest}: ${model.params.packages} packages a release, ${model.names.filter((n) => n.pattern !== 'plain').length} variant names, ${total} RPMs`);
  await step('unpack the guest root for rpmbuild (debugfs rdump, read-only)', 'unpack', () => unpackGuestRoot(image, buildroot, signal));

  const payloadDir = path.join(buildroot, 'build/payload');
  await step('compile the shared payloads (one per level and library directory)', 'compile', async () => {
    await mkdir(payloadDir, { recursive: true });
    const wanted = new Map<string, string[]>();
    const march = (level: LevelName) => (level === 'v1' ? 'x86-64' : `x86-64-${level}`);
    for (const b of RELEASES.flatMap((r) => model.releases[r])) {
      if (b.payload.kind === 'program') wanted.set(`program-${b.payload.level}`, [`-march=${march(b.payload.level)}`, `-DLG_LEVEL=${b.payload.level.slice(1)}`, sourcePath('compose-program.c')]);
      if (b.payload.kind === 'library') {
        for (const c of b.payload.copies) {
          wanted.set(libraryPayload(c.level, c.hwcaps), ['-shared', '-fPIC', `-march=${march(c.level)}`, `-DLG_LEVEL=${c.level.slice(1)}`, `-DLG_VARIANT="${c.hwcaps || 'baseline'}"`, sourcePath('compose-lib.c')]);
        }
      }
    }
    await Promise.all([...wanted].map(([file, args]) => gcc([...args, '-o', path.join(payloadDir, file)])));
  });

  const groups = new Map<string, { release: ReleaseName; arch: string; builds: ComposeBuild[] }>();
  for (const release of RELEASES) {
    for (const b of model.releases[release]) {
      const key = `${release}-${b.arch}`;
      if (!groups.has(key)) groups.set(key, { release, arch: b.arch, builds: [] });
      groups.get(key)!.builds.push(b);
    }
  }
  await step(`stage ${total} packages' files (hard links to the payloads)`, 'stage', async () => {
    await mkdir(path.join(buildroot, 'build/specs'), { recursive: true });
    for (const [key, group] of groups) {
      const tree = path.join(buildroot, 'build/src', key);
      const dirs = new Set<string>();
      for (const b of group.builds) {
        for (const f of buildFiles(b)) {
          const target = path.join(tree, f.path);
          const parent = path.dirname(target);
          if (!dirs.has(parent)) {
            await mkdir(parent, { recursive: true });
            dirs.add(parent);
          }
          if (f.payload) await link(path.join(payloadDir, f.payload), target);
          else await writeFile(target, f.text ?? '');
        }
      }
      await writeFile(path.join(buildroot, 'build/specs', `${key}.spec`), composeSpec(group.release, group.arch, group.builds));
    }
  });

  await step(`package ${total} RPMs (${groups.size} rpmbuild runs, two at a time)`, 'rpmbuild', async () => {
    const queue = new PQueue({ concurrency: 2 });
    await Promise.all(
      [...groups].map(([key, group]) =>
        queue.add(() =>
          chroot([
            'rpmbuild', '--quiet', '-bb',
            ...(group.arch === 'noarch' ? [] : ['--target', group.arch]),
            '--define', `_topdir /build/top/${key}`,
            '--define', 'debug_package %{nil}',
            '--define', '__strip /bin/true',
            '--define', '_build_id_links none',
            `/build/specs/${key}.spec`,
          ]),
        ),
      ),
    );
  });

  await step('publish both releases (createrepo_c)', 'createrepo', async () => {
    for (const release of RELEASES) {
      const repo = path.join(buildroot, 'build/repos', release);
      await mkdir(path.join(repo, 'Packages'), { recursive: true });
      for (const [key, group] of groups) {
        if (group.release !== release) continue;
        const rpms = path.join(buildroot, 'build/top', key, 'RPMS', group.arch);
        const made = new Set(await readdir(rpms).catch(() => []));
        for (const b of group.builds) {
          const file = `${buildNevra(b)}.rpm`;
          if (!made.has(file)) throw new InfrastructureError(`rpmbuild made no ${file} (in ${rpms})`);
          await rename(path.join(rpms, file), path.join(repo, 'Packages', file));
        }
      }
      await chroot(['createrepo_c', '--quiet', '--general-compress-type=gz', '--no-database', `/build/repos/${release}`]);
    }
    await rename(path.join(buildroot, 'build/repos'), path.join(out, 'releases'));
  });

  await writeJson(path.join(out, 'manifest.json'), {
    digest,
    image: image.digest,
    params: model.params,
    builtAt: new Date().toISOString(),
    buildSeconds: seconds,
    rpms: total,
    names: model.names.filter((n): n is ComposeName => n.pattern !== 'plain'),
  });
}
