// The npm programs the CI-example tests run (gitlab-ci-local, action-validator), installed
// once from test/fixtures/ci-tools's lockfile into the cache, keyed by that lockfile.
import { createHash } from 'node:crypto';
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cacheRoot, ensureCached, exists } from '../../harness/host/cache.js';
import { CHECKOUT, NPM_ENV } from './package.js';

const TOOLS = path.join(CHECKOUT, 'test/fixtures/ci-tools');

/** The bin directory of the installed tools (node_modules/.bin). */
export async function ciTools(): Promise<string> {
  const lock = await readFile(path.join(TOOLS, 'package-lock.json'));
  const dir = path.join(cacheRoot(), 'npm-tools', createHash('sha256').update(lock).digest('hex').slice(0, 16));
  const bin = path.join(dir, 'node_modules/.bin');
  return ensureCached({
    dir,
    what: 'the CI-example tools (npm ci)',
    load: async () => ((await exists(path.join(bin, 'gitlab-ci-local'))) && (await exists(path.join(bin, 'action-validator'))) ? bin : undefined),
    build: async (staging) => {
      for (const file of ['package.json', 'package-lock.json']) await copyFile(path.join(TOOLS, file), path.join(staging, file));
      await execa('npm', ['ci', '--ignore-scripts', '--loglevel=error'], { cwd: staging, env: NPM_ENV });
    },
  });
}
