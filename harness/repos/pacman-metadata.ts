// Reads what a pacman repository offers from its own database: NAME.db (repo-add's
// tar of NAME-VERSION/desc files, gzip or zstd) in the repository directory; each desc
// gives %NAME%, %VERSION% ([EPOCH:]PKGVER-PKGREL), %ARCH% and %FILENAME%. The
// database's name is the repository's: pacman.conf's section must be called so.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { archOfPacman } from '../levels/arch.js';
import { UsageError } from '../util/errors.js';
import type { RepoPackage } from './repodata.js';

/** The database files a directory holds, by the repository name they give: core.db, core.db.tar.gz, core.db.tar.zst. */
export async function findPacmanDatabases(repoDir: string): Promise<Map<string, string>> {
  const entries = await readdir(repoDir).catch(() => [] as string[]);
  const dbs = new Map<string, string>();
  for (const file of entries.sort()) {
    const m = /^(.+)\.db(?:\.tar\.(?:gz|zst|xz|bz2))?$/.exec(file);
    // Prefer the symlink repo-add makes (NAME.db), else the archive itself.
    if (m && (!dbs.has(m[1]!) || file === `${m[1]}.db`)) dbs.set(m[1]!, file);
  }
  return dbs;
}

/** The desc files' packages, from their concatenated text (each starts with %FILENAME%). */
export function parsePacmanDescs(text: string): RepoPackage[] {
  const packages: RepoPackage[] = [];
  for (const desc of text.split(/(?=^%FILENAME%$)/m)) {
    const field = (name: string) => new RegExp(`^%${name}%\\n(.+)$`, 'm').exec(desc)?.[1]?.trim();
    const name = field('NAME');
    const version = field('VERSION');
    const filename = field('FILENAME');
    if (!name || !version || !filename) continue;
    const v = /^(?:(\d+):)?(.+)-([^-]+)$/.exec(version);
    if (!v) continue;
    packages.push({ name, epoch: Number(v[1] ?? 0), version: v[2]!, release: v[3]!, arch: archOfPacman(field('ARCH') ?? ''), location: filename, files: [] });
  }
  return packages;
}

/** Every package of the database `file` (GNU tar reads gzip and zstd archives by their magic). */
export async function readPacmanDatabase(file: string): Promise<RepoPackage[]> {
  const result = await execa('tar', ['-xOf', file, '--wildcards', '*/desc'], { reject: false });
  if (result.failed) throw new UsageError(`${file}: cannot read the pacman database (${result.stderr.trim() || result.shortMessage})`);
  return parsePacmanDescs(result.stdout);
}

/** The one database of a pacman repository directory: its name and packages. */
export async function readPacmanRepo(repoDir: string): Promise<{ db: string; packages: RepoPackage[] }> {
  const dbs = await findPacmanDatabases(repoDir);
  if (dbs.size !== 1) throw new UsageError(`${repoDir} holds ${dbs.size} pacman databases (${[...dbs.values()].join(', ')}); attach each repository's directory on its own`);
  const [db, file] = [...dbs][0]!;
  return { db, packages: await readPacmanDatabase(path.join(repoDir, file)) };
}
