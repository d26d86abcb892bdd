import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import test from 'ava';
import { E2E_SECONDS, e2eFilesLongestFirst, fileWeight } from '../suite-order.js';

const DIST_TEST = fileURLToPath(new URL('..', import.meta.url));

test('the suite starts its end-to-end files longest first, the unit files after them; every file kept, the same order every run', (t) => {
  const files = ['unit/b.test.js', 'e2e/levels.e2e.test.js', 'unit/a.test.js', 'e2e/init.e2e.test.js', 'e2e/cloud-image.e2e.test.js', 'e2e/verdicts.e2e.test.js'].map((f) => path.join(DIST_TEST, f));
  const order = [...files].sort(e2eFilesLongestFirst).map((f) => path.relative(DIST_TEST, f));
  t.deepEqual(order, ['e2e/cloud-image.e2e.test.js', 'e2e/verdicts.e2e.test.js', 'e2e/levels.e2e.test.js', 'e2e/init.e2e.test.js', 'unit/a.test.js', 'unit/b.test.js']);
  t.deepEqual([...files].reverse().sort(e2eFilesLongestFirst), [...files].sort(e2eFilesLongestFirst));
});

test('an end-to-end file not yet measured counts as the longest (started early, never left to run alone at the end)', (t) => {
  t.is(fileWeight('/x/dist/test/e2e/new-thing.e2e.test.js'), Math.max(...Object.values(E2E_SECONDS)));
  t.is(fileWeight('/x/dist/test/unit/new-thing.test.js'), 0);
});

test('the table names only end-to-end files that exist', async (t) => {
  const present = new Set(await readdir(path.join(DIST_TEST, 'e2e')));
  t.deepEqual(Object.keys(E2E_SECONDS).filter((f) => !present.has(f)), []);
});

test("ava's configuration orders the files with it", async (t) => {
  const config = (await import(pathToFileURL(path.join(DIST_TEST, '..', '..', 'ava.config.js')).href)) as { default: { sortTestFiles?: unknown; files?: unknown } };
  t.is(config.default.sortTestFiles, e2eFilesLongestFirst);
  t.deepEqual(config.default.files, ['dist/test/**/*.test.js']);
});
