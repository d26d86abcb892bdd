// How a person runs levelgate where they are, for the commands reports print (repro,
// rerun): `./levelgate` in a checkout of levelgate itself, `npx levelgate` in a project
// that depends on it, and the launcher's own path anywhere else (a command that works
// from where it is printed).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/harness/config/invocation.js → the package's root.
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function isCheckout(dir: string): boolean {
  try {
    return existsSync(path.join(dir, 'levelgate')) && (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'levelgate';
  } catch {
    return false;
  }
}

let cached: string | undefined;
export function levelgateCommand(cwd = process.cwd()): string {
  if (cached) return cached;
  if (isCheckout(cwd)) cached = './levelgate';
  else if (existsSync(path.join(cwd, 'node_modules', '.bin', 'levelgate'))) cached = 'npx levelgate';
  else if (existsSync(path.join(PACKAGE_ROOT, 'levelgate'))) cached = path.join(PACKAGE_ROOT, 'levelgate');
  else cached = 'npx levelgate';
  return cached;
}
