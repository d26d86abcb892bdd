// The floors of harness/ hold: every import between folders is one harness/DEPS.list
// permits, the permitted graph has no cycle, and no folder is missing from the list.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { findCycle, importsOf, parseDeps, violations, type Deps } from '../fixtures/import-graph.js';

const CHECKOUT = fileURLToPath(new URL('../../..', import.meta.url));
const HARNESS = path.join(CHECKOUT, 'harness');

async function harnessSources(): Promise<string[]> {
  const entries = await readdir(HARNESS, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(CHECKOUT, path.join(e.parentPath, e.name)))
    .sort();
}

async function loadDeps(): Promise<Deps> {
  return parseDeps(await readFile(path.join(HARNESS, 'DEPS.list'), 'utf8'), 'harness/DEPS.list');
}

async function graph() {
  const files = await harnessSources();
  const imports = [];
  for (const file of files) imports.push(...importsOf(file, await readFile(path.join(CHECKOUT, file), 'utf8')));
  return { files, imports };
}

test('every import between harness folders is one harness/DEPS.list permits', async (t) => {
  const deps = await loadDeps();
  const { imports } = await graph();
  t.deepEqual(violations(deps, imports), []);
});

test('the floors harness/DEPS.list permits form no cycle', async (t) => {
  const deps = await loadDeps();
  t.is(findCycle(deps.allowed), undefined);
});

test('the imports between harness folders form no cycle', async (t) => {
  const { imports } = await graph();
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    if (i.fromFolder === i.toFolder || i.toFolder === '.' || i.fromFolder === '.') continue;
    if (!edges.has(i.fromFolder)) edges.set(i.fromFolder, new Set());
    edges.get(i.fromFolder)!.add(i.toFolder);
  }
  t.is(findCycle(edges), undefined);
});

test('every harness folder has its floor in harness/DEPS.list', async (t) => {
  const deps = await loadDeps();
  const { files } = await graph();
  const folders = new Set(files.map((f) => f.split('/')).filter((p) => p.length > 2).map((p) => p[1]!));
  t.deepEqual([...folders].filter((f) => !deps.allowed.has(f)).sort(), []);
  t.deepEqual([...deps.allowed.keys()].filter((f) => !folders.has(f)).sort(), []);
});

test('every type-only exception in harness/DEPS.list is still needed and type-only', async (t) => {
  const deps = await loadDeps();
  const { imports } = await graph();
  const stale = deps.typeExceptions.filter(
    (e) => !imports.some((i) => i.file === e.file && i.toFolder === e.toFolder && i.typeOnly),
  );
  t.deepEqual(stale.map((e) => `${e.where}: ${e.file} -> ${e.toFolder} is not imported (type-only) any more`), []);
});

// The rule itself is tested on small graphs, so that a check that cannot fail is caught.
const DEPS_TEXT = [
  '# bottom first',
  'util:',
  'levels: util',
  'run: util levels',
  'type harness/run/x.ts -> report  # hooks',
  'report: util levels',
].join('\n');

test('an import up a floor is named with file, line and what would permit it', (t) => {
  const deps = parseDeps(DEPS_TEXT, 'DEPS');
  const imports = importsOf('harness/levels/table.ts', "import { x } from '../run/cell.js';\n");
  t.deepEqual(violations(deps, imports), [
    'harness/levels/table.ts:1: levels may not import run (harness/run/cell.ts); DEPS permits levels: util',
  ]);
});

test('a type-only import is allowed only where an exception names the file', (t) => {
  const deps = parseDeps(DEPS_TEXT, 'DEPS');
  const named = importsOf('harness/run/x.ts', "import type { R } from '../report/reporter.js';\n");
  const other = importsOf('harness/run/y.ts', "import type { R } from '../report/reporter.js';\n");
  const value = importsOf('harness/run/x.ts', "import { makeR } from '../report/reporter.js';\n");
  t.deepEqual(violations(deps, named), []);
  t.is(violations(deps, other).length, 1);
  t.is(violations(deps, value).length, 1);
});

test('dynamic imports and re-exports count as imports', (t) => {
  const found = importsOf(
    'harness/levels/a.ts',
    "export { y } from '../run/b.js';\nconst m = await import('../report/c.js');\n",
  );
  t.deepEqual(
    found.map((i) => [i.toFolder, i.line, i.typeOnly]),
    [
      ['run', 1, false],
      ['report', 2, false],
    ],
  );
});

test('a cycle in the permitted floors is found and named', (t) => {
  const deps = parseDeps('a: b\nb: c\nc: a\n', 'DEPS');
  t.deepEqual(findCycle(deps.allowed), ['a', 'b', 'c', 'a']);
});

test('a malformed DEPS line names the file and line', (t) => {
  t.throws(() => parseDeps('util:\nlevels util\n', 'harness/DEPS.list'), {
    message: "harness/DEPS.list:2: expected 'folder: folders it may import' or 'type FILE -> folder  # why', got 'levels util'",
  });
  t.throws(() => parseDeps('util:\ntype harness/a.ts -> util\n', 'harness/DEPS.list'), {
    message: 'harness/DEPS.list:2: a type-only exception needs its reason after #',
  });
});
