// levelgate as a user gets it: a fresh checkout of this tree (the files git would commit,
// in a new repository: no node_modules, no dist), the tarball `npm pack` makes there, and
// new projects that install it. npm runs with the cache preferred, as CI would.
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const CHECKOUT = fileURLToPath(new URL('../../..', import.meta.url));

/** npm as the tests run it: quiet, cache first, no audit or funding requests. */
export const NPM_ENV: Readonly<Record<string, string>> = {
  npm_config_prefer_offline: 'true',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
};

/** What the tests read of a finished command. */
export interface Ran {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly all: string;
}

/** Runs a command to its end (never throws on its exit code); `env` adds to NPM_ENV. */
export async function run(file: string, args: readonly string[], cwd: string, env: Readonly<Record<string, string>> = {}): Promise<Ran> {
  const result = await execa(file, [...args], { cwd, reject: false, all: true, env: { ...NPM_ENV, ...env } });
  return { exitCode: result.exitCode, stdout: result.stdout, all: result.all };
}

/** A scratch directory, removed by the returned function. */
export async function scratch(label: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `levelgate-${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Copies what git would commit from this checkout (tracked and new files, not ignored ones) into `dir`, as one commit. */
export async function freshCheckout(dir: string): Promise<string> {
  const listed = await execa('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: CHECKOUT });
  await mkdir(dir, { recursive: true });
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    await cp(path.join(CHECKOUT, file), path.join(dir, file), { recursive: true, errorOnExist: false }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error; // deleted in the work tree, not yet in the index
    });
  }
  const git = (args: string[]) => execa('git', ['-c', 'user.name=levelgate-test', '-c', 'user.email=test@levelgate.invalid', ...args], { cwd: dir });
  await git(['init', '-q', '-b', 'main']);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'fresh checkout']);
  return dir;
}

/** `npm pack` in `checkout`: the tarball's path and the files it holds. */
export async function pack(checkout: string): Promise<{ tarball: string; files: string[]; result: Ran }> {
  const result = await run('npm', ['pack', '--json', '--loglevel=error'], checkout);
  if (result.exitCode !== 0) return { tarball: '', files: [], result };
  const [info] = JSON.parse(result.stdout.slice(result.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  return { tarball: path.join(checkout, info!.filename), files: info!.files.map((f) => f.path).sort(), result };
}

/** A new project (ESM, no dependencies) in `dir` that then runs `npm install --save-dev SPEC`. */
export async function projectInstalling(dir: string, spec: string): Promise<Ran> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'distro-qa', version: '1.0.0', private: true, type: 'module' }, null, 2)}\n`);
  return run('npm', ['install', '--save-dev', '--loglevel=warn', spec], dir);
}

/** `npx levelgate ARGS` in a project, without ever fetching from the registry. */
export function npxLevelgate(project: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<Ran> {
  return run('npx', ['--no-install', 'levelgate', ...args], project, env);
}
