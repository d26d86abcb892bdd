// What running a package in a pinned guest showed (audit --run): how it installed, each
// program it ran and how that ended, and every SIGILL, explained.
import type { ForensicsRecord } from '../../forensics/record.js';
import type { LevelName } from '../../levels/table.js';

export interface ProgramRunRecord {
  readonly argv: readonly string[];
  /** The command as one copy-pasteable line. */
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  /** The agent could not start it (the file is missing or not executable). */
  readonly spawnFailed: boolean;
  readonly durationMs: number;
  /** Its first line of output; of its stderr when it failed. */
  readonly firstLine: string;
  /** The forensics line of each SIGILL it met. */
  readonly sigills: readonly string[];
}

/** A SIGILL met while the package ran, with the command that met it. */
export type RunTrap = ForensicsRecord & { readonly command: string };

export interface PackageRun {
  /** The CPU it ran on: a level ("v1") or a near miss ("v3-fma"). */
  readonly target: string;
  /** The level that CPU meets. */
  readonly level: LevelName;
  readonly accel?: string;
  readonly fidelity?: string;
  /** How its guest started: restored from the snapshot of a booted, proven guest, or booted. */
  readonly start?: 'snapshot' | 'cold';
  /** The install command as it ran. */
  readonly install?: string;
  /** Why it did not run (fully): the level is unavailable, rpm refused it, the guest failed. */
  readonly problem?: string;
  /** The problem is the host's or the harness's (no guest), not the package's. */
  readonly infrastructure?: boolean;
  readonly programs: readonly ProgramRunRecord[];
  /** Every SIGILL the install and the programs met, explained. */
  readonly traps: readonly RunTrap[];
  readonly durationMs: number;
}
