// Every SIGILL a command met, explained: the kernel's trap lines the guest console
// printed while it ran (its own process or any it started: a scriptlet, a program) and
// glibc's "CPU does not support x86-64-vN" in its stderr, each investigated in the guest.
import type { Fidelity } from '../levels/canaries.js';
import type { LevelName } from '../levels/table.js';
import type { GuestExec } from './investigate.js';
import type { ForensicsRecord } from '../model/forensics-record.js';
import { parseTrapLine, type GlibcRefusal, type TrapLine } from './trap-line.js';

export interface CommandEvidence {
  readonly argv: readonly string[];
  readonly stderr: string;
  /** Console lines seen while the command ran. */
  readonly consoleLines: readonly string[];
}

/** The traps and refusals in a command's evidence, once each (the kernel repeats nothing; glibc may print twice). */
export function trapsIn(evidence: CommandEvidence): (TrapLine | GlibcRefusal)[] {
  const found = new Map<string, TrapLine | GlibcRefusal>();
  for (const line of [...evidence.consoleLines, ...evidence.stderr.split('\n')]) {
    const trap = parseTrapLine(line);
    if (trap && !found.has(trap.line)) found.set(trap.line, trap);
  }
  return [...found.values()];
}

/** Investigates each trap of the command in the guest; a record that could not be made says why instead of failing the run. */
export async function explainCommand(evidence: CommandEvidence, guest: { exec: GuestExec; level: LevelName; fidelity: Fidelity }): Promise<ForensicsRecord[]> {
  const program = evidence.argv[0];
  const knownPath = program?.startsWith('/') ? program : undefined;
  const traps = trapsIn(evidence);
  if (traps.length === 0) return [];
  // The instruction decoder (iced-x86: about half a second to load) only where there is a trap to explain.
  const { investigateTrap } = await import('./investigate.js');
  const records: ForensicsRecord[] = [];
  for (const trap of traps) {
    records.push(await investigateTrap(trap, { exec: guest.exec, guestLevel: guest.level, fidelity: guest.fidelity, ...(knownPath ? { knownPath } : {}) }));
  }
  return records;
}
