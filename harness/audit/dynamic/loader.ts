// The loader program `audit --run bisect` loads libraries with (guest/lg-load.c: dlopen
// with RTLD_NOW, then dlsym of every exported symbol): compiled on the host with gcc for
// plain x86-64 (v1, so the loader itself runs at every level) and cached under the
// digest of its source; it reaches the guests on the packages' disk.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { cacheRoot, ensureCached, exists } from '../../host/cache.js';
import { silentLog, type Log } from '../../util/log.js';

const SOURCE = fileURLToPath(new URL('../../../../harness/audit/dynamic/guest/lg-load.c', import.meta.url));
export const LOADER_NAME = 'lg-load';

/** The gcc command line: baseline x86-64, warnings are errors. */
export const loaderCompileArgs = (source: string, output: string): string[] => ['-O2', '-march=x86-64', '-mtune=generic', '-Wall', '-Werror', '-o', output, source];

/** The loader's path on the host, built once per version of its source. */
export async function ensureLoader(options: { readonly cacheDir?: string; readonly log?: Log; readonly signal?: AbortSignal } = {}): Promise<string> {
  const source = await readFile(SOURCE);
  const key = createHash('sha256').update(source).update(JSON.stringify(loaderCompileArgs('', ''))).digest('hex').slice(0, 16);
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'loaders', key);
  const binary = path.join(dir, LOADER_NAME);
  return ensureCached({
    dir,
    what: 'the library loader (gcc)',
    load: async () => ((await exists(binary)) ? binary : undefined),
    log: options.log ?? silentLog,
    ...(options.signal ? { signal: options.signal } : {}),
    build: async (staging) => {
      await execa('gcc', loaderCompileArgs(SOURCE, path.join(staging, LOADER_NAME)), options.signal ? { cancelSignal: options.signal } : {});
    },
  });
}
