import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { commandFor } from '../../harness/util/invocation.js';

let top: string;
const at = (...parts: string[]) => path.join(top, ...parts);

async function file(rel: string, text = ''): Promise<void> {
  await mkdir(path.dirname(at(rel)), { recursive: true });
  await writeFile(at(rel), text);
}

test.before(async () => {
  top = await mkdtemp(path.join(os.tmpdir(), 'levelgate-invocation-'));
  const manifest = JSON.stringify({ name: 'levelgate' });
  // A checkout: launcher, sources, package.json.
  await file('checkout/levelgate');
  await file('checkout/tsconfig.json', '{}');
  await file('checkout/package.json', manifest);
  // A project with an installed package (a tarball or git URL: no launcher, no sources) and its bin.
  await file('project/package.json', '{}');
  await file('project/node_modules/levelgate/package.json', manifest);
  await file('project/node_modules/.bin/levelgate');
  await mkdir(at('project/scenarios/deep'), { recursive: true });
  // A global install.
  await file('prefix/lib/node_modules/levelgate/package.json', manifest);
  // A project that links the checkout (`npm install file:…`): the bin is the project's, the code the checkout's.
  await file('linking/node_modules/.bin/levelgate');
  await mkdir(at('elsewhere'), { recursive: true });
});

test.after.always(() => rm(top, { recursive: true, force: true }));

test('in a checkout of levelgate: its launcher', (t) => {
  t.is(commandFor({ root: at('checkout'), cwd: at('checkout') }), './levelgate');
});

test('an installed package, from its project or below it: npx, never the node_modules path', (t) => {
  const root = at('project/node_modules/levelgate');
  t.is(commandFor({ root, cwd: at('project') }), 'npx levelgate');
  t.is(commandFor({ root, cwd: at('project/scenarios/deep') }), 'npx levelgate');
});

test('a global install, from a directory of no project: the bin on PATH', (t) => {
  t.is(commandFor({ root: at('prefix/lib/node_modules/levelgate'), cwd: at('elsewhere') }), 'levelgate');
});

test('a checkout linked into a project (file:), run there: npx', (t) => {
  t.is(commandFor({ root: at('checkout'), cwd: at('linking') }), 'npx levelgate');
});

test('a checkout run from elsewhere: its launcher by path', (t) => {
  t.is(commandFor({ root: at('checkout'), cwd: at('elsewhere') }), at('checkout', 'levelgate'));
});

test('no printed command names node_modules', (t) => {
  for (const root of [at('project/node_modules/levelgate'), at('prefix/lib/node_modules/levelgate')]) {
    for (const cwd of [at('project'), at('elsewhere'), at('linking'), at('checkout')]) {
      const command = commandFor({ root, cwd });
      t.false(command.includes('node_modules'), `${root} from ${cwd}: ${command}`);
    }
  }
});
