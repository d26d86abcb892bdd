// Reads what an apt archive offers from its own metadata: dists/SUITE/Release names the
// suite, its components and (maybe) its architectures; every binary-*/Packages index it
// hashes (plain, .gz or .xz) lists stanzas whose Architecture and Architecture-Variant
// give levelgate's arch word (amd64 + amd64v3 → x86_64_v3, all → noarch).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { execa } from 'execa';
import { archOfDebian } from '../levels/arch.js';
import { UsageError } from '../util/errors.js';
import type { RepoPackage } from './repodata.js';

export interface AptRelease {
  readonly suite: string;
  readonly components: readonly string[];
  /** The Architectures field; undefined when Release has none. */
  readonly architectures: readonly string[] | undefined;
  /** Every index file the Release hashes, relative to dists/SUITE. */
  readonly files: readonly string[];
}

/** Debian control stanzas (RFC 822 style) as field maps; continuation lines are dropped. */
export function parseStanzas(text: string): Map<string, string>[] {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => new Map(stanza.split('\n').flatMap((l) => { const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(l); return m ? [[m[1]!, m[2]!.trim()] as [string, string]] : []; })))
    .filter((s) => s.size > 0);
}

/** The Release file's fields levelgate reads, and the index files its SHA256 (or MD5Sum) section lists. */
export function parseRelease(text: string, fallbackSuite: string): AptRelease {
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const files = new Set<string>();
  for (const m of text.matchAll(/^ [0-9a-f]{32,128}\s+\d+\s+(\S+)$/gm)) files.add(m[1]!);
  const architectures = field('Architectures');
  return {
    suite: field('Suite') ?? field('Codename') ?? fallbackSuite,
    components: (field('Components') ?? 'main').split(/\s+/).filter(Boolean),
    architectures: architectures === undefined ? undefined : architectures.split(/\s+/).filter(Boolean),
    files: [...files].sort(),
  };
}

async function readIndex(file: string): Promise<string> {
  if (file.endsWith('.gz')) return gunzipSync(await readFile(file)).toString('utf8');
  if (file.endsWith('.xz')) return (await execa('xz', ['-dc', file])).stdout;
  return readFile(file, 'utf8');
}

/** The packages of every binary index of one Release (each index read once, in its least compressed form present). */
export async function readAptPackages(suiteDir: string, release: AptRelease): Promise<RepoPackage[]> {
  const indexes = new Map<string, string>();
  for (const file of release.files) {
    const m = /^(.+\/binary-[^/]+\/Packages)(\.gz|\.xz)?$/.exec(file);
    if (!m) continue;
    const have = indexes.get(m[1]!);
    if (have === undefined || file.length < have.length) indexes.set(m[1]!, file);
  }
  const packages = new Map<string, RepoPackage>();
  for (const file of [...indexes.values()].sort()) {
    let text: string;
    try {
      text = await readIndex(path.join(suiteDir, file));
    } catch (error) {
      throw new UsageError(`${path.join(suiteDir, 'Release')} lists ${file}, which cannot be read (${(error as Error).message})`);
    }
    for (const stanza of parseStanzas(text)) {
      const name = stanza.get('Package');
      const version = stanza.get('Version');
      const filename = stanza.get('Filename');
      if (!name || !version || !filename) continue;
      const v = /^(?:(\d+):)?(.+?)(?:-([^-]+))?$/.exec(version)!;
      const p: RepoPackage = { name, epoch: Number(v[1] ?? 0), version: v[2]!, release: v[3] ?? '', arch: archOfDebian(stanza.get('Architecture') ?? '', stanza.get('Architecture-Variant')), location: filename, files: [] };
      // An Architecture: all build is in every index: once.
      packages.set(`${p.name} ${version} ${p.arch}`, p);
    }
  }
  return [...packages.values()];
}

/** The suites of an apt archive: every dists/SUITE/Release. */
export async function findAptReleases(repoDir: string): Promise<{ dir: string; release: AptRelease; text: string }[]> {
  const dists = path.join(repoDir, 'dists');
  const suites = await readdir(dists, { withFileTypes: true }).catch(() => []);
  const found: { dir: string; release: AptRelease; text: string }[] = [];
  for (const entry of suites.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const text = await readFile(path.join(dists, entry.name, 'Release'), 'utf8').catch(() => undefined);
    if (text !== undefined) found.push({ dir: path.join(dists, entry.name), release: parseRelease(text, entry.name), text });
  }
  return found;
}
