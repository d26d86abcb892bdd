import test from 'ava';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { typeCheckCached } from '../../harness/config/typecheck.js';

test('a kept type check is reused while no file the compiler read changed, and checked again when one did', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-test-typecheck-'));
  try {
    const cache = path.join(dir, 'cache');
    const root = path.join(dir, 'scenario.ts');
    const helper = path.join(dir, 'helper.ts');
    await writeFile(helper, 'export const count: number = 3;\n');
    await writeFile(root, "import { count } from './helper.js';\nexport const total: number = count + 1;\n");
    t.deepEqual(await typeCheckCached([root], {}, cache), []);
    // Reused: the kept answer is what comes back (made visible by editing it).
    const [kept] = await readdir(path.join(cache, 'typecheck'));
    const keptFile = path.join(cache, 'typecheck', kept!);
    const entry = JSON.parse(await readFile(keptFile, 'utf8')) as { read: { file: string }[]; problems: unknown[] };
    t.true(entry.read.some((r) => r.file === helper), 'the imported module is among the files read');
    await writeFile(keptFile, JSON.stringify({ ...entry, problems: [{ file: root, line: 1, column: 1, message: 'kept' }] }));
    t.deepEqual((await typeCheckCached([root], {}, cache)).map((p) => p.message), ['kept']);
    // A module the root imports changes (not the root itself): checked again, and the real error is found.
    await writeFile(helper, "export const count: string = 'three';\n");
    const problems = await typeCheckCached([root], {}, cache);
    t.is(problems.length, 1);
    t.regex(problems[0]!.message, /not assignable to type 'number'/);
    t.is(problems[0]!.file, root);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
