// The suite runs in a user's clone, where nothing lies beside the checkout: no test,
// benchmark or harness file may read a path outside the repository (../shared was one).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { JUNIT_SCHEMA } from '../fixtures/schemas.js';

const CHECKOUT = fileURLToPath(new URL('../../..', import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const entries = await readdir(path.join(CHECKOUT, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
}

test('no source reads ../shared or another path beside the checkout', async (t) => {
  const offenders: string[] = [];
  for (const dir of ['harness', 'runners', 'scenarios', 'test', 'bench']) {
    for (const file of await sources(dir)) {
      const text = await readFile(file, 'utf8');
      text.split('\n').forEach((line, i) => {
        if (/['"`](\.\.\/)+shared\//.test(line)) offenders.push(`${path.relative(CHECKOUT, file)}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  t.deepEqual(offenders, []);
});

test('the JUnit schema the tests validate against is in the repository', async (t) => {
  t.true(JUNIT_SCHEMA.startsWith(CHECKOUT));
  t.regex(await readFile(JUNIT_SCHEMA, 'utf8'), /<xs:schema/);
});
