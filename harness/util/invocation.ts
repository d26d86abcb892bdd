// How a person runs levelgate where they are, for the commands reports and hints print
// (repro, rerun, setup): `./levelgate` in a checkout of levelgate itself, `npx levelgate`
// in a project that depends on it, `levelgate` for a global install, and a checkout's
// launcher by its own path anywhere else. Never a path inside node_modules.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/harness/util/invocation.js → the package's root (a symlinked `file:` install resolves to the checkout).
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Where the running copy of levelgate is, as far as the printed command is concerned. */
export interface Installation {
  /** The package's root directory (real path). */
  readonly root: string;
  /** The directory the command is printed for. */
  readonly cwd: string;
}

/** A checkout of levelgate (its launcher and sources), as opposed to an installed package, which ships neither. */
function isCheckout(dir: string): boolean {
  try {
    return existsSync(path.join(dir, 'levelgate')) && existsSync(path.join(dir, 'tsconfig.json')) && (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'levelgate';
  } catch {
    return false;
  }
}

/** The project whose node_modules holds `root` (…/project/node_modules/levelgate → …/project), if any. */
function owningProject(root: string): string | undefined {
  const parts = root.split(path.sep);
  const at = parts.lastIndexOf('node_modules');
  return at > 0 ? parts.slice(0, at).join(path.sep) || path.sep : undefined;
}

/** Whether `dir` is `ancestor` or lies below it. */
function within(dir: string, ancestor: string): boolean {
  const rel = path.relative(ancestor, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** npx finds the project's bin from `cwd` upwards: does a node_modules/.bin/levelgate lie on that way? */
function projectBinAbove(cwd: string): boolean {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'node_modules', '.bin', 'levelgate'))) return true;
    if (path.dirname(dir) === dir) return false;
  }
}

/** The command that runs levelgate from `where.cwd`, as a person would type it. */
export function commandFor(where: Installation): string {
  if (isCheckout(where.cwd)) return './levelgate';
  const project = owningProject(where.root);
  if (project !== undefined) {
    // An installed package: npx from inside its project (or any project that has it), else a global install's bin.
    return within(where.cwd, project) || projectBinAbove(where.cwd) ? 'npx levelgate' : 'levelgate';
  }
  if (projectBinAbove(where.cwd)) return 'npx levelgate'; // a project that links a checkout (`file:`)
  if (isCheckout(where.root)) return path.join(where.root, 'levelgate');
  return 'npx levelgate';
}

let cached: string | undefined;
/** The command for this process (computed once: the working directory does not change under a run). */
export function levelgateCommand(): string {
  cached ??= commandFor({ root: PACKAGE_ROOT, cwd: process.cwd() });
  return cached;
}
