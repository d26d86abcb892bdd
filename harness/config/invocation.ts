// How a person runs levelgate where they are, for the commands reports print (repro,
// rerun): `./levelgate` in a checkout of levelgate itself, `npx levelgate` in a project
// that depends on it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

let cached: string | undefined;
export function levelgateCommand(cwd = process.cwd()): string {
  if (cached) return cached;
  let own = false;
  try {
    own = existsSync(path.join(cwd, 'levelgate')) && (JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')) as { name?: string }).name === 'levelgate';
  } catch {
    own = false;
  }
  cached = own ? './levelgate' : 'npx levelgate';
  return cached;
}
