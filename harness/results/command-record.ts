// A command's run as results keep it (a cell's steps and a compose audit alike), with each
// SIGILL it met explained in one line.
import type { ExecResult } from '../model/guest.js';
import type { CommandRecord } from './types.js';

export function commandRecord(result: ExecResult, role: CommandRecord['role'], forensics: readonly string[]): CommandRecord {
  return {
    command: result.command,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: result.durationMs,
    consoleEvents: result.consoleEvents.map((e) => `${e.kind}: ${e.line}`),
    ...(forensics.length ? { forensics } : {}),
    role,
  };
}
