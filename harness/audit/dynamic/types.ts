// What running a package in a pinned guest showed (audit --run): how it installed, each
// program it ran and how that ended, and every SIGILL, explained.
import type { ForensicsRecord } from '../../model/forensics-record.js';
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

/** How a subject fared on one CPU (audit --run bisect). */
export interface LevelAttempt {
  /** The CPU: a level, or a near miss ("v3-fma"). */
  readonly target: string;
  readonly level: LevelName;
  readonly accel?: string;
  readonly fidelity?: string;
  /**
   * ran: every command exited 0 without a SIGILL; sigill: one died of SIGILL (or glibc
   * refused to load it); exit: one exited non-zero, without a SIGILL; failed: killed by
   * another signal, timed out, or could not start; not-run: the level was unavailable,
   * the install failed or the guest failed (`problem` says which).
   */
  readonly outcome: 'ran' | 'sigill' | 'exit' | 'failed' | 'not-run';
  readonly programs: readonly ProgramRunRecord[];
  readonly traps: readonly RunTrap[];
  readonly problem?: string;
  /** The problem is the host's or the guest's, not the program's. */
  readonly infrastructure?: boolean;
}

/** What stopped a subject one level below the lowest where it runs. */
export interface Killer {
  readonly level: LevelName;
  readonly how: 'sigill' | 'exit' | 'failed';
  /** The instruction's mnemonic ("vzeroupper"), when a SIGILL's forensics read it. */
  readonly mnemonic?: string;
  /** The features it needs, psABI names ("AVX"), comma-separated. */
  readonly extension?: string;
  /**
   * The lowest level with those features (null: in no level). In a program with several
   * threads the first one to reach an instruction the CPU lacks kills it, so the
   * instruction may differ from run to run (bun's baseline build: pinsrd or popcnt);
   * its level does not.
   */
  readonly needs?: LevelName | null;
  /** The forensics line, or how the command ended. */
  readonly line: string;
}

/** Whether the static and dynamic answers agree, and if not, which one and why. */
export interface Reconciliation {
  /**
   * agree; static-higher: the static audit says the file needs more than the level it
   * ran at; static-lower: it died at a level the static audit says is enough;
   * undecided: it ran at no level, or its lowest level is unknown.
   */
  readonly agreement: 'agree' | 'static-higher' | 'static-lower' | 'undecided';
  readonly text: string;
}

/** One program (its commands) or library (through the loader), bisected over the levels. */
export interface BisectResult {
  /** The file as the static audit names it. */
  readonly path: string;
  readonly kind: 'program' | 'library';
  /** The commands, as copy-pasteable lines. */
  readonly commands: readonly string[];
  /** The lowest level where every command ran; undefined when none did. */
  readonly runsAt?: LevelName;
  /** What killed it one level below `runsAt`. */
  readonly killedBelowBy?: Killer;
  /** Each level it was run at, lowest first (a level above `runsAt` is not run). */
  readonly attempts: readonly LevelAttempt[];
  /** --near-misses: the near misses of `runsAt` (one feature short), each run. */
  readonly nearMisses?: readonly LevelAttempt[];
  /** The static audit's level for the file's code without a CPU check. */
  readonly staticLevel?: LevelName;
  readonly reconciliation: Reconciliation;
}
