// Reads what a repository offers from the metadata createrepo_c writes: repodata/repomd.xml
// names the primary file (gzip, zstd, xz or bzip2), whose <package> records give each
// package's name, epoch-version-release, arch and its primary file list (bin and etc
// paths). Streamed through saxes, so a compose's 100 MB primary.xml is never held whole.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { createHash } from 'node:crypto';
import type { RepoFormat } from '../model/package-manager.js';
import { exists } from '../host/cache.js';
import { UsageError } from '../util/errors.js';
import { findAptReleases, readAptPackages } from './apt-metadata.js';
import type { Evr } from '../packages/evr.js';
import { findPacmanDatabases, readPacmanRepo } from './pacman-metadata.js';
import { readRepomd, repomdPath } from './repomd.js';

export interface RepoPackage extends Evr {
  readonly name: string;
  readonly arch: string;
  /** The package file, relative to the repository directory. */
  readonly location: string;
  /** The files primary.xml lists (createrepo_c keeps /usr/bin, /usr/sbin, /etc and a few more), and its shared libraries from filelists.xml. */
  readonly files: readonly string[];
}

export interface RepoMetadata {
  readonly dir: string;
  /** Which tools read it: createrepo_c's repodata, an apt archive, a pacman database. */
  readonly format: RepoFormat;
  /** The repomd.xml revision (an apt Release's or pacman database's digest): changes whenever the repository does. */
  readonly revision: string;
  readonly packages: readonly RepoPackage[];
  /** An apt archive's suite and components (its first suite when it has several). */
  readonly apt?: { readonly suite: string; readonly components: readonly string[] };
  /** A pacman repository's database name: the section name pacman.conf must give it. */
  readonly pacman?: { readonly db: string };
}

/** The decompressed bytes of a metadata file, by its extension. */
function decompressed(file: string): Readable {
  if (file.endsWith('.gz')) return createReadStream(file).pipe(createGunzip());
  const tool = file.endsWith('.zst') ? 'zstd' : file.endsWith('.xz') ? 'xz' : file.endsWith('.bz2') ? 'bzip2' : undefined;
  if (!tool) return createReadStream(file);
  // Node 20's zlib has no zstd or xz: the host's decompressors (Debian's zstd, xz-utils, bzip2) stream it.
  const child = execa(tool, ['-dc', file], { buffer: false, stdin: 'ignore', stderr: 'ignore' });
  child.catch(() => {});
  return child.stdout;
}

/** Parses primary.xml into packages. */
export async function readPrimary(file: string): Promise<RepoPackage[]> {
  const packages: RepoPackage[] = [];
  const parser = new SaxesParser();
  let current: { name: string; arch: string; epoch: number; version: string; release: string; location: string; files: string[] } | undefined;
  let field: 'name' | 'arch' | 'file' | undefined;
  let text = '';
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const attrs = tag.attributes;
    switch (tag.name) {
      case 'package':
        current = { name: '', arch: '', epoch: 0, version: '', release: '', location: '', files: [] };
        break;
      case 'name':
      case 'arch':
      case 'file':
        if (current && (tag.name !== 'file' || attrs.type !== 'dir')) {
          field = tag.name;
          text = '';
        }
        break;
      case 'version':
        if (current) {
          current.epoch = Number(attrs.epoch ?? 0);
          current.version = attrs.ver ?? '';
          current.release = attrs.rel ?? '';
        }
        break;
      case 'location':
        if (current) current.location = attrs.href ?? '';
        break;
    }
  });
  parser.on('text', (t) => {
    if (field) text += t;
  });
  parser.on('closetag', (tag: SaxesTagPlain) => {
    if (field && tag.name === field && current) {
      if (field === 'file') current.files.push(text);
      else current[field] = text;
      field = undefined;
    }
    if (tag.name === 'package' && current) {
      packages.push(current);
      current = undefined;
    }
  });
  await feed(parser, file, 'repository metadata');
  return packages;
}

/** Streams a (compressed) metadata file through `parser`; a broken file is a UsageError naming it. */
async function feed(parser: SaxesParser, file: string, what: string): Promise<void> {
  const stream = decompressed(file);
  stream.setEncoding('utf8');
  try {
    for await (const chunk of stream) parser.write(chunk as string);
    parser.close();
  } catch (error) {
    throw new UsageError(`${file}: cannot read ${what} (${(error as Error).message})`);
  }
}

/** What the repository at `repoDir` offers, from its own metadata, whose kind decides the format: repodata/repomd.xml, dists/SUITE/Release, or NAME.db. */
export async function readRepoMetadata(repoDir: string): Promise<RepoMetadata> {
  const releases = await findAptReleases(repoDir);
  if (releases.length > 0 && !(await exists(repomdPath(repoDir)))) {
    const { dir, release, text } = releases[0]!;
    return { dir: repoDir, format: 'apt', revision: digestOf(text), packages: await readAptPackages(dir, release), apt: { suite: release.suite, components: release.components } };
  }
  if ((await findPacmanDatabases(repoDir)).size > 0 && !(await exists(repomdPath(repoDir)))) {
    const { db, packages } = await readPacmanRepo(repoDir);
    return { dir: repoDir, format: 'pacman', revision: digestOf(packages.map((p) => `${p.name} ${p.version}-${p.release} ${p.arch}`).join('\n')), packages, pacman: { db } };
  }
  return readRpmMdMetadata(repoDir);
}

const digestOf = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** What a createrepo_c repository offers (repodata/repomd.xml names the primary file). */
async function readRpmMdMetadata(repoDir: string): Promise<RepoMetadata> {
  const repomd = await readRepomd(repoDir);
  const { revision } = repomd;
  const href = repomd.data.get('primary')?.href;
  if (!href) throw new UsageError(`${repomd.file} names no primary metadata (<data type="primary">)`);
  const file = path.join(repoDir, href);
  if (!(await stat(file).then((s) => s.isFile(), () => false))) {
    throw new UsageError(`${repomd.file} names ${href}, which is missing`, { hint: `rebuild the metadata: createrepo_c ${repoDir}` });
  }
  const packages = await readPrimary(file);
  // primary.xml lists no library directories: the libraries come from filelists.xml, when the repository has one.
  const listed = repomd.data.get('filelists')?.href;
  const lists = listed && (await exists(path.join(repoDir, listed))) ? path.join(repoDir, listed) : undefined;
  if (!lists) return { dir: repoDir, format: 'rpm-md', revision, packages };
  const libraries = await readLibraryFiles(lists);
  return { dir: repoDir, format: 'rpm-md', revision, packages: packages.map((p) => ({ ...p, files: [...new Set([...p.files, ...(libraries.get(packageKey(p)) ?? [])])] })) };
}

/** A shared library in a library directory or one of its glibc-hwcaps subdirectories. */
export const LIBRARY_FILE = /^(\/(?:usr\/)?lib(?:64)?)\/(?:glibc-hwcaps\/(x86-64-v[234])\/)?(lib[^/]+\.so(?:\.[\d.]+)?)$/;
const packageKey = (p: { name: string; epoch: number; version: string; release: string; arch: string }) => `${p.name} ${p.epoch}:${p.version}-${p.release}.${p.arch}`;

/** Each package's shared libraries (by NAME E:V-R.ARCH), streamed from filelists.xml. */
async function readLibraryFiles(file: string): Promise<Map<string, string[]>> {
  const files = new Map<string, string[]>();
  const parser = new SaxesParser();
  let current: { name: string; epoch: number; version: string; release: string; arch: string } | undefined;
  let inFile = false;
  let text = '';
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const a = tag.attributes;
    if (tag.name === 'package') current = { name: a.name ?? '', arch: a.arch ?? '', epoch: 0, version: '', release: '' };
    if (tag.name === 'version' && current) Object.assign(current, { epoch: Number(a.epoch ?? 0), version: a.ver ?? '', release: a.rel ?? '' });
    if (tag.name === 'file' && a.type !== 'dir') {
      inFile = true;
      text = '';
    }
  });
  parser.on('text', (t) => {
    if (inFile) text += t;
  });
  parser.on('closetag', (tag: SaxesTagPlain) => {
    if (tag.name !== 'file' || !inFile || !current) return;
    inFile = false;
    if (!LIBRARY_FILE.test(text)) return;
    const key = packageKey(current);
    if (!files.has(key)) files.set(key, []);
    files.get(key)!.push(text);
  });
  await feed(parser, file, 'repository file lists');
  return files;
}
