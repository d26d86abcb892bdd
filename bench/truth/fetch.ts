// Fetches a truth-table binary into ~/.cache/levelgate/truth/KIND/NAME@VERSION (once):
// `npm pack` for npm packages, `apt-get download` for Debian's, unpacked in a staging
// directory and published by rename as every cache entry is. Returns the file's path.
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cacheRoot, ensureCached, exists } from '../../harness/host/cache.js';
import type { TruthEntry } from './audit-truth-local.js';

export async function fetchTruth(entry: TruthEntry, log: (line: string) => void = () => {}): Promise<string> {
  const { kind, name, version } = entry.source;
  const dir = path.join(cacheRoot(), 'truth', kind, `${name.replace(/\//g, '+')}@${version}`);
  const file = path.join(dir, entry.path);
  await ensureCached({
    dir,
    what: `${name}@${version}`,
    log,
    load: async () => ((await exists(file)) ? file : undefined),
    build: async (staging) => {
      const download = path.join(staging, '.download');
      await mkdir(download, { recursive: true });
      if (kind === 'npm') await execa('npm', ['pack', `${name}@${version}`, '--pack-destination', download], { cwd: download });
      else await execa('apt-get', ['download', `${name}=${version}`], { cwd: download });
      const [archive] = await readdir(download);
      if (!archive) throw new Error(`${name}@${version}: nothing was downloaded`);
      if (kind === 'npm') await execa('tar', ['-xzf', path.join(download, archive), '-C', staging]);
      else await execa('dpkg-deb', ['-x', path.join(download, archive), staging]);
      await execa('rm', ['-rf', download]);
    },
  });
  if (!(await exists(file))) throw new Error(`${name}@${version} has no ${entry.path}`);
  return file;
}
