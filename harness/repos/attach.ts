// Repositories a user attaches (`--repo NAME=DIR`, `repos:` in the configuration): each
// is checked (a directory with repodata that parses), read for what it offers, and all
// of them reach the guests read-only on one data disk at /mnt/repos/NAME. The disk is
// made once per content (the repositories' metadata revisions and file sizes and
// times) and cached; the directories themselves are never written.
import { createHash } from 'node:crypto';
import { mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeDataDisk } from '../host/data-disk.js';
import type { DataDisk } from '../model/guest.js';
import { cacheRoot, ensureCached, exists } from '../host/cache.js';
import { UsageError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import type { AttachedRepo } from './catalog.js';
import { readRepoMetadata } from './repodata.js';

/** The data disk's name: it is mounted at /mnt/repos in every guest. */
export const ATTACHED_DISK_NAME = 'repos';
const NAME = /^[a-z0-9][a-z0-9._-]{0,40}$/;

export interface AttachRequest {
  readonly name: string;
  readonly dir: string;
  /** Where the user said it, for messages: "--repo compose=/srv/c" or "levelgate.config.ts: repos.compose". */
  readonly where: string;
}

/** Checks and reads each repository; a problem names where the user gave it and what to do. */
export async function readAttachedRepos(requests: readonly AttachRequest[]): Promise<AttachedRepo[]> {
  const seen = new Map<string, string>();
  const repos: AttachedRepo[] = [];
  for (const request of requests) {
    if (!NAME.test(request.name)) throw new UsageError(`${request.where}: '${request.name}' is not a repository name; use lowercase letters, digits, '.', '_' or '-' (it becomes /mnt/repos/${request.name})`);
    const other = seen.get(request.name);
    if (other) throw new UsageError(`${request.where}: repository '${request.name}' is attached twice (also ${other})`);
    seen.set(request.name, request.where);
    const dir = path.resolve(request.dir);
    try {
      repos.push({ name: request.name, dir, metadata: await readRepoMetadata(dir) });
    } catch (error) {
      if (error instanceof UsageError) throw new UsageError(`${request.where}: ${error.message}`, { ...(error.hint ? { hint: error.hint } : {}) });
      throw error;
    }
  }
  return repos;
}

async function* files(dir: string, prefix = ''): AsyncGenerator<{ rel: string; size: number; mtimeMs: number }> {
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    const rel = `${prefix}${entry.name}`;
    if (entry.isDirectory()) yield* files(full, `${rel}/`);
    else if (entry.isFile()) {
      const s = await stat(full);
      yield { rel, size: s.size, mtimeMs: Math.round(s.mtimeMs) };
    }
  }
}

/** The disk's cache key: names, metadata revisions and every file's size and time. */
async function contentKey(repos: readonly AttachedRepo[]): Promise<string> {
  const hash = createHash('sha256');
  for (const repo of repos) {
    hash.update(`\0${repo.name}\0${repo.dir}\0${repo.metadata.revision}\0`);
    for await (const f of files(repo.dir)) hash.update(`${f.rel}\t${f.size}\t${f.mtimeMs}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** The read-only data disk holding every attached repository (undefined when none is attached). */
export async function attachedReposDisk(repos: readonly AttachedRepo[], options: { cacheDir?: string; log?: Log; signal?: AbortSignal } = {}): Promise<DataDisk | undefined> {
  if (repos.length === 0) return undefined;
  const key = await contentKey(repos);
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'repos', key);
  const image = path.join(dir, 'repos.img');
  return ensureCached({
    dir,
    what: `the disk of attached repositories ${repos.map((r) => r.name).join(', ')}`,
    load: async () => ((await exists(image)) ? { name: ATTACHED_DISK_NAME, path: image } : undefined),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.log ? { log: options.log } : {}),
    build: async (staging) => {
      const tree = path.join(staging, 'tree');
      await mkdir(tree, { recursive: true });
      for (const repo of repos) {
        // Hard links where the cache shares the repository's filesystem; a copy otherwise.
        const linked = await execa('cp', ['-al', `${repo.dir}/.`, path.join(tree, repo.name)], { reject: false });
        if (linked.failed) {
          const copied = await execa('cp', ['-a', `${repo.dir}/.`, path.join(tree, repo.name)], { reject: false, all: true });
          if (copied.failed) throw new UsageError(`cannot copy repository ${repo.name} from ${repo.dir}: ${copied.all ?? copied.shortMessage}`);
        }
      }
      options.log?.(`attached repositories ${repos.map((r) => r.name).join(', ')}: making their read-only disk`);
      await makeDataDisk(ATTACHED_DISK_NAME, tree, path.join(staging, 'repos.img'));
      await execa('rm', ['-rf', tree]);
    },
  });
}
