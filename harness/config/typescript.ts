// The TypeScript compiler, loaded on first use: its 9 MB take 0.3-1.5 s to load, which
// commands that check no project (exec, merge, audit, --help) should not pay.
import { createRequire } from 'node:module';
import type ts from 'typescript';

let loaded: typeof ts | undefined;

export function typescript(): typeof ts {
  loaded ??= createRequire(import.meta.url)('typescript') as typeof ts;
  return loaded;
}
