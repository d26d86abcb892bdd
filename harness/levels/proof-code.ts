// The digest of the code that proves a guest's level and asks its detectors (the
// compiled modules beside this one): part of every snapshot key, so a fix to the proof,
// the canaries' judgement or the detectors rebuilds the snapshots proven by the old code.
// The canary program itself is in the guest image, whose digest the keys carry already.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The modules of the proof (commands and rules), the canaries, the level table and the detectors. */
export const PROOF_MODULES = ['proof.js', 'canaries.js', 'detect.js', '../drivers/detectors.js', 'targets.js', 'table.js'] as const;

/**
 * SHA-256 over `files` (base name and content of each, in order), 16 hex digits. Not the
 * directory: two checkouts of the same code (worktrees, CI) share the cache's snapshots.
 */
export async function digestFiles(files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${path.basename(file)}\0`).update(await readFile(file)).update('\0');
  return hash.digest('hex').slice(0, 16);
}

let cached: Promise<string> | undefined;

/** The digest of PROOF_MODULES as this levelgate runs them (read once per process). */
export function proofCodeDigest(): Promise<string> {
  cached ??= digestFiles(PROOF_MODULES.map((m) => fileURLToPath(new URL(m, import.meta.url))));
  return cached;
}
