// What every floor above says of a guest: its commands, their endings, its data disks.
import type { Fidelity } from '../levels/canaries.js';
import type { LevelName } from '../levels/table.js';

export interface DataDisk {
  /** Mounted read-only in the guest at /mnt/NAME; [a-z0-9][a-z0-9._-]{0,16}. */
  readonly name: string;
  /** A raw ext4 image (see data-disk.ts). */
  readonly path: string;
}

export interface GuestCommand {
  readonly argv: readonly string[];
  /** Written to the command's stdin (config files go through `tee`, never a shell). */
  readonly input?: string;
}

/** A command's ending, whatever the backend. */
export interface ExecResult {
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly spawnFailed: boolean;
  readonly stdout: string;
  /** The same output, undecoded (when the backend has it). */
  readonly stdoutBytes?: Buffer;
  readonly stderr: string;
  readonly durationMs: number;
  readonly consoleEvents: readonly { readonly kind: string; readonly line: string }[];
}

export interface CellExecOptions {
  readonly input?: string;
  /** Environment variables added for this command. */
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly onStdout?: (chunk: Buffer) => void;
  readonly onStderr?: (chunk: Buffer) => void;
}

/** What the interpreter needs of a guest. */
export interface CellGuest {
  readonly level: LevelName;
  readonly fidelity: Fidelity;
  exec(argv: readonly string[], options: CellExecOptions): Promise<ExecResult>;
}
