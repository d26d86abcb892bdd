// repodata/repomd.xml, read once: the repository's revision and, per kind of data
// (primary, filelists, other…), its file's location and its compressed and open sizes.
// Every reader of rpm-md metadata starts here (the catalog's packages, a compose's
// guest memory).
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { SaxesParser } from 'saxes';
import { UsageError } from '../util/errors.js';

/** One <data> entry: where its file is (relative to the repository) and how big it is. */
export interface RepomdData {
  readonly href: string;
  /** The file's size as stored (compressed). */
  readonly size?: number;
  /** Its size uncompressed. */
  readonly openSize?: number;
}

export interface Repomd {
  /** The repomd.xml file read, for messages. */
  readonly file: string;
  readonly revision: string;
  /** By data type ("primary", "filelists"). */
  readonly data: ReadonlyMap<string, RepomdData>;
}

export const repomdPath = (repoDir: string): string => path.join(repoDir, 'repodata', 'repomd.xml');

/** Reads `repoDir`'s repodata/repomd.xml; a missing or malformed one is a UsageError naming the file (or the directory that is not a repository). */
export async function readRepomd(repoDir: string): Promise<Repomd> {
  const file = repomdPath(repoDir);
  let xml: string;
  try {
    xml = await readFile(file, 'utf8');
  } catch {
    const isDir = await stat(repoDir).then((s) => s.isDirectory(), () => false);
    throw new UsageError(
      isDir ? `${repoDir} is not a repository: it has no repodata/repomd.xml (rpm-md), dists/SUITE/Release (apt) or NAME.db (pacman)` : `${repoDir} does not exist or is not a directory`,
      { hint: isDir ? `make its metadata with: createrepo_c ${repoDir} (or apt-ftparchive, or repo-add)` : 'give the path of a directory with repodata/ (createrepo_c), dists/ (apt) or a NAME.db (pacman)' },
    );
  }
  const data = new Map<string, { href?: string; size?: number; openSize?: number }>();
  let revision = '';
  let type: string | undefined;
  let field: 'revision' | 'size' | 'openSize' | undefined;
  const parser = new SaxesParser();
  parser.on('opentag', (tag) => {
    const attrs = tag.attributes as Record<string, string>;
    if (tag.name === 'data') {
      type = attrs.type;
      if (type) data.set(type, {});
    }
    if (tag.name === 'location' && type) data.get(type)!.href = attrs.href;
    field = tag.name === 'revision' ? 'revision' : !type ? undefined : tag.name === 'size' ? 'size' : tag.name === 'open-size' ? 'openSize' : undefined;
  });
  parser.on('text', (text) => {
    if (field === 'revision') revision += text;
    else if (field && type && text.trim()) data.get(type)![field] = Number(text.trim());
  });
  parser.on('closetag', (tag) => {
    field = undefined;
    if (tag.name === 'data') type = undefined;
  });
  try {
    parser.write(xml).close();
  } catch (error) {
    throw new UsageError(`${file}: not valid repository metadata (${(error as Error).message})`);
  }
  const entries = [...data].filter((e): e is [string, RepomdData] => e[1].href !== undefined);
  return { file, revision: revision.trim(), data: new Map(entries) };
}
