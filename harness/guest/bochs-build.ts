// Builds the lean Bochs (bochs-build-recipe.ts) once and caches it like the guest image:
// the Debian source package's files downloaded from the mirror, each checked against the
// recipe's pins, unpacked with Debian's patches applied, configured with levelgate's
// arguments, compiled in a staging directory and published by rename; the binary and a
// manifest are all it keeps.
import { copyFile, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { dir as tmpDir } from 'tmp-promise';
import { cacheRoot, ensureCached, writeJson } from '../host/cache.js';
import { removeTree } from '../host/remove-tree.js';
import { InfrastructureError } from '../util/errors.js';
import { silentLog, timedStep, type Log } from '../util/log.js';
import { requireTools } from '../host/tools.js';
import { checkDownload, compileCommands, leanBochsKey, leanBochsRecipe, patchCommand, patchSeries, SOURCE_TREE, unpackCommands, type BuildCommand, type LeanBochsRecipe } from './bochs-build-recipe.js';

export interface LeanBochs {
  readonly key: string;
  readonly binary: string;
  readonly recipe: LeanBochsRecipe;
  readonly buildSeconds: number;
}

const MANIFEST = 'manifest.json';
const BINARY = 'bochs';

/** Fetches one file of the source package; an HTTP error names the URL. */
export type Fetcher = (url: string, signal?: AbortSignal) => Promise<Buffer>;

const httpFetch: Fetcher = async (url, signal) => {
  const response = await fetch(url, signal ? { signal } : {});
  if (!response.ok) throw new InfrastructureError(`${url}: HTTP ${response.status} ${response.statusText}`);
  return Buffer.from(await response.arrayBuffer());
};

/** Downloads the source package's files into `dir`, each checked against the recipe; throws naming the file that is not what the recipe pins. */
export async function downloadSource(recipe: LeanBochsRecipe, dir: string, fetcher: Fetcher = httpFetch, signal?: AbortSignal): Promise<void> {
  const { source } = recipe;
  const base = `${recipe.mirror.replace(/\/+$/, '')}/${source.pool}`;
  for (const file of [source.orig, source.debian]) {
    const bytes = await fetcher(`${base}/${file.name}`, signal);
    const problem = checkDownload(file.name, bytes, file);
    if (problem) throw new InfrastructureError(`the Bochs source package's download is not what levelgate's recipe pins: ${problem}`);
    await writeFile(path.join(dir, file.name), bytes);
  }
}

async function load(dir: string, key: string): Promise<LeanBochs | undefined> {
  try {
    const manifest = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Omit<LeanBochs, 'binary'>;
    if (manifest.key !== key) return undefined;
    const binary = path.join(dir, BINARY);
    if ((await stat(binary)).size === 0) return undefined;
    return { ...manifest, binary };
  } catch {
    return undefined;
  }
}

export interface EnsureLeanBochsOptions {
  readonly log?: Log;
  readonly signal?: AbortSignal;
  readonly rebuild?: boolean;
  readonly cacheDir?: string;
  readonly fetcher?: Fetcher;
}

/** Where the lean Bochs of `recipe` lives in the cache. */
export function leanBochsDir(recipe: LeanBochsRecipe = leanBochsRecipe(), cache: string = cacheRoot()): string {
  return path.join(cache, 'tools', `bochs-${leanBochsKey(recipe)}`);
}

/** The lean Bochs, built once (a few minutes on two cores) and cached; throws with the reason when it cannot be built. */
export async function ensureLeanBochs(options: EnsureLeanBochsOptions = {}): Promise<LeanBochs> {
  const log = options.log ?? silentLog;
  const recipe = leanBochsRecipe();
  const key = leanBochsKey(recipe);
  const dir = leanBochsDir(recipe, options.cacheDir ?? cacheRoot());
  const signalOption = options.signal ? { signal: options.signal } : {};
  return ensureCached({
    dir,
    what: `the lean Bochs ${key}`,
    load: () => load(dir, key),
    log,
    ...signalOption,
    ...(options.rebuild ? { rebuild: true } : {}),
    build: async (staging) => {
      // The build's programs (host/tools.ts, purpose 'bochs-build'): a missing one is named with its package.
      await requireTools(['bochs-build']);
      const started = performance.now();
      const work = await tmpDir({ prefix: 'levelgate-bochs-build-', unsafeCleanup: true });
      try {
        await timedStep(log, `download Debian's ${recipe.source.name} ${recipe.source.version} source package (${recipe.source.suite}; each file checked against the recipe)`, () =>
          downloadSource(recipe, work.path, options.fetcher, options.signal),
        );
        const tree = path.join(work.path, SOURCE_TREE);
        const run = (step: BuildCommand) =>
          timedStep(log, `lean Bochs: ${step.title}`, async () => {
            const result = await execa(step.file, [...step.args], {
              cwd: step.inTree ? tree : work.path,
              env: { ...step.env, LC_ALL: 'C' },
              reject: false,
              all: true,
              ...(options.signal ? { cancelSignal: options.signal } : {}),
            });
            if (result.failed) throw new InfrastructureError(`building the lean Bochs failed at "${step.title}": ${result.shortMessage}`, { details: result.all?.slice(-8000) ?? '' });
          });
        for (const step of unpackCommands(recipe)) await run(step);
        const series = await readFile(path.join(tree, 'debian', 'patches', 'series'), 'utf8').catch(() => '');
        for (const name of patchSeries(series)) await run(patchCommand(name));
        for (const step of compileCommands(recipe, os.availableParallelism())) await run(step);
        await copyFile(path.join(tree, BINARY), path.join(staging, BINARY));
        const buildSeconds = Math.round((performance.now() - started) / 1000);
        await writeJson(path.join(staging, MANIFEST), { key, recipe, buildSeconds, createdAt: new Date().toISOString() });
      } finally {
        await removeTree(work.path);
      }
    },
  });
}
