// levelgate installed as a QA team installs it, from a fresh checkout (no node_modules,
// no dist): `npm pack` there, then `npm install` of that tarball, of a git URL and of
// `file:` a checkout, each in a new project where `npx levelgate` works and prints no
// path inside node_modules. The tarball holds what runs and what types need, nothing else.
import { access, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type { RunResult } from '../../harness/results/types.js';
import { freshCheckout, npxLevelgate, pack, projectInstalling, run, scratch } from './package.js';

let top: { dir: string; remove: () => Promise<void> };
let source: string;
let packed: Awaited<ReturnType<typeof pack>> | undefined;
const exists = (file: string) => access(file).then(() => true, () => false);

test.before(async () => {
  top = await scratch('install');
  source = await freshCheckout(path.join(top.dir, 'source'));
});

test.after.always(async () => {
  await top?.remove();
});

/** A new clone of the fresh checkout, as `git clone` gives it. */
async function clone(name: string): Promise<string> {
  const dir = path.join(top.dir, name);
  const result = await run('git', ['clone', '-q', source, dir], top.dir);
  if (result.exitCode !== 0) throw new Error(`git clone: ${result.all}`);
  return dir;
}

/** What every install path must give: the command runs and prints its usage. */
async function checkInstalled(t: import('ava').ExecutionContext, project: string): Promise<void> {
  const help = await npxLevelgate(project, ['--help']);
  t.is(help.exitCode, 0, help.all);
  t.regex(help.stdout, /^usage: levelgate COMMAND/);
}

test.serial('npm pack in a fresh clone builds the package; the tarball holds what runs and what types need, nothing else', async (t) => {
  t.timeout(10 * 60_000);
  const checkout = await clone('pack');
  packed = await pack(checkout);
  t.is(packed.result.exitCode, 0, packed.result.all);
  const shipped = /^(LICENSE|README\.md|package\.json|dist\/(harness|runners|scenarios)\/.+\.(js|d\.ts)|harness\/image\/guest\/[^/]+|harness\/fixtures\/sources\/[^/]+|harness\/audit\/dynamic\/guest\/[^/]+|docs\/ci\/github-actions\.yml)$/;
  t.deepEqual(packed.files.filter((f) => !shipped.test(f)), [], 'files outside what runs and what types need');
  for (const needed of ['LICENSE', 'dist/runners/cli.js', 'dist/harness/index.js', 'dist/harness/index.d.ts', 'harness/image/guest/agent.c', 'harness/fixtures/sources/variant.c', 'harness/audit/dynamic/guest/lg-load.c', 'docs/ci/github-actions.yml']) t.true(packed.files.includes(needed), needed);
  // No source maps, and no JavaScript pointing to one (the TypeScript sources are not shipped).
  t.false(packed.files.some((f) => f.endsWith('.map')));
  const cli = await readFile(path.join(checkout, 'dist/runners/cli.js'), 'utf8');
  t.notRegex(cli, /sourceMappingURL/);
  // Every .js has its declarations (the public API's types resolve from the package alone).
  const js = packed.files.filter((f) => f.endsWith('.js'));
  t.deepEqual(js.filter((f) => !packed!.files.includes(f.replace(/\.js$/, '.d.ts'))), []);
  t.regex(await readFile(path.join(checkout, 'LICENSE'), 'utf8'), /^MIT License/);
});

/** What npm put in node_modules is the package as packed: built, without sources, launcher, bootstrap or a node_modules of its own. */
async function checkPacked(t: import('ava').ExecutionContext, project: string): Promise<void> {
  const installed = path.join(project, 'node_modules/levelgate');
  t.deepEqual((await readdir(installed)).sort(), ['LICENSE', 'README.md', 'dist', 'docs', 'harness', 'package.json']);
  t.false(await exists(path.join(installed, 'node_modules')));
  t.true(await exists(path.join(installed, 'dist/runners/cli.js')));
}

test.serial('npm install of the tarball: npx levelgate runs from the project, the package has no launcher to bootstrap', async (t) => {
  t.timeout(10 * 60_000);
  if (!packed?.tarball) return t.fail('no tarball: npm pack failed above');
  const project = path.join(top.dir, 'from-tarball');
  const install = await projectInstalling(project, packed.tarball);
  t.is(install.exitCode, 0, install.all);
  await checkPacked(t, project);
  await checkInstalled(t, project);
  const version = await npxLevelgate(project, ['--version']);
  t.is(version.stdout.trim(), `levelgate ${(JSON.parse(await readFile(path.join(project, 'node_modules/levelgate/package.json'), 'utf8')) as { version: string }).version}`, version.all);
  // doctor (once: it probes the accelerators) names the command that works here, never the checkout's launcher or a node_modules path.
  const doctor = await npxLevelgate(project, ['doctor']);
  t.regex(doctor.stdout, /^Host programs/m, doctor.all);
  t.notRegex(doctor.all, /\.\/levelgate|node_modules/);
});

test.serial('npm install of a git URL builds the package in npm\'s clone (prepare) and installs the result', async (t) => {
  t.timeout(10 * 60_000);
  const project = path.join(top.dir, 'from-git');
  const install = await projectInstalling(project, `git+file://${source}`);
  t.is(install.exitCode, 0, install.all);
  await checkPacked(t, project);
  await checkInstalled(t, project);
});

test.serial('npm install of file: a fresh checkout installs its dependencies, builds it (prepare) and links it', async (t) => {
  t.timeout(10 * 60_000);
  const checkout = await clone('linked');
  const project = path.join(top.dir, 'from-file');
  const install = await projectInstalling(project, `file:${checkout}`);
  t.is(install.exitCode, 0, install.all);
  t.true(await exists(path.join(checkout, 'dist/runners/cli.js')), 'prepare built the checkout');
  await checkInstalled(t, project);
});

test.serial('a gate of one cell from the installed tarball: a verdict, and the repro command of a project', async (t) => {
  t.timeout(15 * 60_000);
  const project = path.join(top.dir, 'from-tarball');
  if (!(await exists(path.join(project, 'node_modules/.bin/levelgate')))) return t.fail('the tarball was not installed above');
  const gate = await npxLevelgate(project, ['gate', '--scenario', 'detection', '--level', 'v1', '--driver', 'rpm', '--json', 'out/gate.json', '--junit', 'out/junit.xml']);
  t.is(gate.exitCode, 0, gate.all);
  const report = JSON.parse(await readFile(path.join(project, 'out/gate.json'), 'utf8')) as RunResult;
  t.deepEqual(report.cells.map((c) => [c.id, c.verdict]), [['detection[v1,rpm]', 'pass']]);
  t.is(report.cells[0]!.repro, 'npx levelgate repro detection --level v1 --driver rpm');
});
