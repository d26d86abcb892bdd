// The on-disk cache: where images live, and how a build claims and publishes one so
// that runs building at once neither corrupt nor duplicate it.
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { removeTree } from './remove-tree.js';

/** $LEVELGATE_CACHE, else $XDG_CACHE_HOME/levelgate, else ~/.cache/levelgate. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LEVELGATE_CACHE) return path.resolve(env.LEVELGATE_CACHE);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(base, 'levelgate');
}

export const exists = (file: string): Promise<boolean> => stat(file).then(() => true, () => false);

/** Whether process `pid` runs (EPERM: it runs as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes an exclusive lock file (O_EXCL, holding the owner's pid). A lock whose owner
 * died is taken over. Returns the release function.
 */
export async function acquireLock(
  lockPath: string,
  options: { signal?: AbortSignal; onWait?: (ownerPid: number) => void } = {},
): Promise<() => Promise<void>> {
  await mkdir(path.dirname(lockPath), { recursive: true });
  let told = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner > 0 && !pidAlive(owner)) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (!told && Number.isInteger(owner)) {
      options.onWait?.(owner);
      told = true;
    }
    await sleep(500, undefined, options.signal ? { signal: options.signal } : undefined);
  }
}

/** Moves a finished staging directory into place; false when another build got there first. */
export async function publishDirectory(staging: string, target: string): Promise<boolean> {
  try {
    await rename(staging, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') {
      await removeTree(staging);
      return false;
    }
    throw error;
  }
}

export async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Removes `ENTRY.staging-PID` in `folder` of every process that is gone (a build killed
 * before its own clean-up ran): `entry`'s (the caller holds its lock), or, without one,
 * every entry's (a folder of keyed entries, such as the snapshot store's, where a key may
 * never be built again).
 */
export async function removeStaleStaging(folder: string, entry?: string): Promise<string[]> {
  const names = await readdir(folder).catch(() => [] as string[]);
  const stale = names.filter((name) => {
    const m = /^(.+)\.staging-(\d+)$/.exec(name);
    if (!m || (entry !== undefined && m[1] !== entry)) return false;
    const pid = Number(m[2]);
    return pid > 0 && !pidAlive(pid);
  });
  for (const name of stale) await removeTree(path.join(folder, name));
  return stale;
}

export interface EnsureCachedOptions<T> {
  /** The published directory. */
  readonly dir: string;
  /** What the cache holds (what a human reads in the wait message). */
  readonly what: string;
  /** Reads the published entry; undefined when it is missing or not usable (it is then rebuilt). */
  readonly load: () => Promise<T | undefined>;
  /** Fills `staging`, which is published by rename only when this resolves. */
  readonly build: (staging: string) => Promise<void>;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
  /** Build even when the cache has the entry. */
  readonly rebuild?: boolean;
}

/**
 * The one way levelgate caches: load → lock → load again (another process may have
 * built it meanwhile) → build in a staging directory → publish by rename → load. An
 * interrupted build never publishes a half-written entry; a stale staging directory of
 * a dead process is removed. The lock makes concurrent runs wait instead of building twice.
 */
export async function ensureCached<T>(options: EnsureCachedOptions<T>): Promise<T> {
  if (!options.rebuild) {
    const cached = await options.load();
    if (cached !== undefined) return cached;
  }
  await mkdir(path.dirname(options.dir), { recursive: true });
  const release = await acquireLock(`${options.dir}.lock`, {
    ...(options.signal ? { signal: options.signal } : {}),
    onWait: (pid) => options.log?.(`waiting for process ${pid}, which is building ${options.what}`),
  });
  const staging = `${options.dir}.staging-${process.pid}`;
  try {
    if (!options.rebuild) {
      const built = await options.load();
      if (built !== undefined) return built;
    }
    await removeTree(options.dir);
    await removeStaleStaging(path.dirname(options.dir), path.basename(options.dir));
    await mkdir(staging, { recursive: true });
    try {
      await options.build(staging);
      await publishDirectory(staging, options.dir);
    } finally {
      await removeTree(staging);
    }
  } finally {
    await release();
  }
  const result = await options.load();
  if (result === undefined) throw new Error(`${options.what} was built but ${options.dir} cannot be read back`);
  return result;
}
