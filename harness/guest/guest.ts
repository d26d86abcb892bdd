// What every guest backend offers, whatever emulator runs it: run commands, report the
// level it proved, power off cleanly, and release everything it holds.
import { constants } from 'node:os';
import type { LevelProof } from '../levels/proof.js';
import type { LevelName } from '../levels/table.js';
import type { ConsoleEvent, GuestConsole } from './console.js';

export interface ExecOptions {
  /** Kills the command's process group in the guest after this long; it then reports timedOut. */
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly input?: string | Buffer;
  readonly onStdout?: (chunk: Buffer) => void;
  readonly onStderr?: (chunk: Buffer) => void;
  readonly signal?: AbortSignal;
}

export interface CommandResult {
  readonly argv: readonly string[];
  /** The command as one copy-pasteable line. */
  readonly command: string;
  /** null when a signal ended it. */
  readonly exitCode: number | null;
  /** e.g. SIGILL; null when it exited. */
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** The agent could not start it (missing program, bad cwd). */
  readonly spawnFailed: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  /** Console evidence (illegal instructions, oopses) printed while it ran. */
  readonly consoleEvents: readonly ConsoleEvent[];
}

export interface GuestTimings {
  /** From spawning the emulator to the agent's first word. */
  readonly bootToReadyMs: number;
  readonly proofMs: number;
}

export interface GuestFacts {
  readonly id: string;
  readonly backend: 'qemu' | 'bochs';
  readonly emulatorVersion: string;
  readonly accel: string;
  readonly cpu: string;
  readonly requestedLevel: LevelName;
  readonly imageDigest: string;
  readonly kernelRelease: string;
}

export interface Guest extends AsyncDisposable {
  readonly facts: GuestFacts;
  readonly proof: LevelProof;
  readonly console: GuestConsole;
  readonly timings: GuestTimings;
  /** The emulator's command line, for repro output. */
  readonly commandLine: string;
  exec(argv: readonly string[], options?: ExecOptions): Promise<CommandResult>;
  /** Syncs the guest's disks and powers it off; the overlay can then boot again. */
  powerOff(): Promise<void>;
  /** Starts a shell on the guest's shell port (booted with `shell: true`); returns the host socket. */
  openShell(): Promise<string>;
  /** Stops the emulator if needed and removes every file and socket it used. Idempotent. */
  dispose(): Promise<void>;
}

export function signalName(signal: number): NodeJS.Signals | null {
  if (signal === 0) return null;
  const entry = Object.entries(constants.signals).find(([, n]) => n === signal);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}

/** Quotes an argument array as one shell-readable line, for messages only. */
export function quoteCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}
