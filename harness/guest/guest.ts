// What every guest backend offers, whatever emulator runs it: run commands, report the
// level it proved, power off cleanly, and release everything it holds.
import type { ImageArtifacts } from '../image/build.js';
import type { LevelProof } from '../levels/proof.js';
import type { LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import type { ConsoleEvent, GuestConsole } from './console.js';
import type { DataDisk } from '../model/guest.js';

/** How to boot a guest, whatever the backend (QemuGuestOptions adds the QEMU accelerator). */
export interface GuestBootOptions {
  readonly image: ImageArtifacts;
  readonly level: LevelName;
  /** A near miss to pin instead of the exact level (`level` is then the level it meets). */
  readonly target?: CpuTarget;
  /** The backend's own CPU name instead of the level's (QEMU -cpu, Bochs model): experiments, and tests that prove a mismatch is caught. */
  readonly cpu?: string;
  readonly memoryMiB?: number;
  readonly dataDisks?: readonly DataDisk[];
  /** Host folders to attach read-only at /mnt/NAME (made into disk images in the guest's temp dir). */
  readonly dataFolders?: readonly { readonly name: string; readonly folder: string }[];
  /** Until the agent is ready; each backend has its default. */
  readonly bootTimeoutMs?: number;
  /** Where the serial console is written; by default inside the guest's temp dir (removed). */
  readonly consoleLog?: string;
  /** The root disk state of an earlier boot (a backend's newDiskState, accel/backend.ts) to boot again; it is kept. */
  readonly disk?: string;
  /** Where the guest's temp dir goes (disk state, sockets); default the OS temp dir. */
  readonly tmpDir?: string;
  readonly signal?: AbortSignal;
  readonly extraKernelArgs?: readonly string[];
  readonly onConsoleData?: (chunk: Buffer) => void;
  /** The default limit for commands that give none. */
  readonly commandTimeoutMs?: number;
  /** Attach a shell port (see openShell). */
  readonly shell?: boolean;
}

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
  /** The same bytes, undecoded (archives, binary files). */
  readonly stdoutBytes: Buffer;
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
  readonly emulator: 'QEMU' | 'Bochs';
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

export { quoteCommand } from '../util/quote.js';
export { signalName } from '../util/signals.js';
