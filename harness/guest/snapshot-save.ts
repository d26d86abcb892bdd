// What every backend's snapshot of the default guest does between the proof and the
// save, and what it reads back: the warm-up commands, the proof, the installed set (a
// cell's first step starts from it, no query needed) and every detector's answer, in
// files of the snapshot directory. Shared by the QEMU and Bochs snapshots.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { LevelProof } from '../levels/proof.js';
import type { GuestCommand } from '../model/guest.js';
import { parseInstalled, QUERY_INSTALLED } from '../drivers/driver.js';
import { writeJson } from '../host/cache.js';
import { askDetectors, type DetectorReading } from '../drivers/detectors.js';
import type { Log } from '../util/log.js';
import type { AgentGuest } from './agent-guest.js';

/** How a snapshot is ensured: where the cache is, and the boot that makes it. */
export interface EnsureSnapshotOptions {
  readonly cacheDir?: string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
  readonly bootTimeoutMs?: number;
  /** Rebuild even when a usable snapshot exists (after a restore showed it does not fit). */
  readonly rebuild?: boolean;
}

/** The snapshot files this module writes and reads, in the snapshot's directory. */
export const SAVED_GUEST_FILES = { proof: 'proof.json', installed: 'installed.json', detectors: 'detectors.json' } as const;
const savedIn = (dir: string) => ({ proof: path.join(dir, SAVED_GUEST_FILES.proof), installed: path.join(dir, SAVED_GUEST_FILES.installed), detectors: path.join(dir, SAVED_GUEST_FILES.detectors) });

/** Runs the warm-up, then records the proof, the installed set and the detectors into `dir`; `timeoutMs` per command. */
export async function recordGuestBeforeSave(guest: AgentGuest, warmUp: readonly GuestCommand[], dir: string, timeoutMs: number): Promise<void> {
  const files = savedIn(dir);
  for (const command of warmUp) {
    const result = await guest.exec(command.argv, { timeoutMs, ...(command.input !== undefined ? { input: command.input } : {}) });
    if (result.exitCode !== 0) throw new Error(`snapshot warm-up \`${result.command}\` failed (${result.signal ?? `exit ${result.exitCode}`}): ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
  }
  await writeJson(files.proof, guest.proof);
  const installed = await guest.exec(QUERY_INSTALLED.argv, { timeoutMs });
  if (installed.exitCode !== 0) throw new Error(`snapshot: \`${installed.command}\` failed: ${installed.stderr.trim()}`);
  await writeJson(files.installed, parseInstalled(installed.stdout));
  await writeJson(files.detectors, await askDetectors((argv, limit) => guest.exec(argv, { timeoutMs: limit }), timeoutMs));
}

/** The proof, the installed set and the detectors' answers a snapshot recorded in `dir`. */
export async function readSavedGuest(dir: string): Promise<{ proof: LevelProof; installed: string[]; detectors: DetectorReading[] }> {
  const files = savedIn(dir);
  return {
    proof: JSON.parse(await readFile(files.proof, 'utf8')) as LevelProof,
    installed: JSON.parse(await readFile(files.installed, 'utf8')) as string[],
    detectors: JSON.parse(await readFile(files.detectors, 'utf8')) as DetectorReading[],
  };
}
