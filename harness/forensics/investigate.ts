// Gathers the facts of a SIGILL from the guest through one callback that runs a command
// there (argument arrays only): the file's full path, the 16 bytes at the trapping
// offset, their owner package; then explains the instruction. Independent of guests and
// of the cell interpreter, so either can call it.
import path from 'node:path';
import type { Fidelity } from '../levels/canaries.js';
import { levelIndex, type LevelName } from '../levels/table.js';
import { explainBytes, hexBytes, offsetFromLoadSegment, type Explanation } from './explain.js';
import { forensicsLine, type ForensicsRecord, type RefusalRecord, type TrapRecord } from './record.js';
import type { GlibcRefusal, TrapLine } from './trap-line.js';
import { installedFilesNamed, packageOwner } from './package-owner.js';

export type GuestExec = (argv: readonly string[]) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>;

export interface InvestigateOptions {
  readonly exec: GuestExec;
  /** The program the harness ran, when known: used when its basename is the trapping file's. */
  readonly knownPath?: string;
  readonly guestLevel: LevelName;
  readonly fidelity: Fidelity;
}

const NO_PACKAGE = '(no package)';

async function readAt(exec: GuestExec, file: string, offset: number, length: number): Promise<Uint8Array | undefined> {
  const r = await exec(['od', '-An', '-tx1', '-v', '-j', String(offset), '-N', String(length), file]);
  if (r.exitCode !== 0) return undefined;
  const bytes = hexBytes(r.stdout);
  return bytes.length ? bytes : undefined;
}

/** The owning package in rpm's, dpkg's or pacman's database (package-owner.ts). */
async function ownerOf(exec: GuestExec, file: string): Promise<string> {
  return (await packageOwner(exec, file)) ?? NO_PACKAGE;
}

/** Every installed file whose basename is `name` (the kernel prints only the basename). */
const installedNamed = (exec: GuestExec, name: string): Promise<string[]> => installedFilesNamed(exec, name);

interface Candidate {
  readonly file: string;
  readonly offset: number | undefined;
  readonly bytes: Uint8Array | undefined;
  readonly explanation: Explanation | undefined;
}

async function examine(exec: GuestExec, file: string, trap: TrapLine): Promise<Candidate> {
  let offset = trap.offset;
  if (offset === undefined && trap.vmaStart) {
    const head = await readAt(exec, file, 0, 4096);
    offset = head ? offsetFromLoadSegment(head, trap.ip, trap.vmaStart) : undefined;
  }
  const bytes = offset === undefined ? undefined : await readAt(exec, file, offset, 16);
  return { file, offset, bytes, explanation: bytes ? explainBytes(bytes, trap.ip) : undefined };
}

const aboveGuest = (c: Candidate, level: LevelName): boolean => {
  const needs = c.explanation?.needs;
  return needs === null || (needs !== undefined && levelIndex(needs) > levelIndex(level));
};

/** The full record of a trap (or a glibc refusal) in a guest at `guestLevel`. */
export async function investigateTrap(trap: TrapLine | GlibcRefusal, options: InvestigateOptions): Promise<ForensicsRecord> {
  const { exec, guestLevel, fidelity, knownPath } = options;
  if (trap.kind === 'glibc-refusal') {
    const pkg = knownPath ? await ownerOf(exec, knownPath) : NO_PACKAGE;
    const base: Omit<RefusalRecord, 'line'> = { kind: 'glibc-refusal', package: pkg, file: knownPath, needs: trap.level, guestLevel, fidelity, trapLine: trap.line };
    return { ...base, line: forensicsLine(base) };
  }
  let candidates: string[];
  if (knownPath && path.posix.basename(knownPath) === trap.file) candidates = [knownPath];
  else candidates = await installedNamed(exec, trap.file);
  const examined: Candidate[] = [];
  for (const file of candidates) examined.push(await examine(exec, file, trap));
  // Several files of that name: the one whose bytes need more than this guest has is the culprit.
  const chosen = examined.find((c) => aboveGuest(c, guestLevel)) ?? examined.find((c) => c.explanation) ?? examined[0];
  const e = chosen?.explanation;
  let note = e?.note;
  if (!chosen) note = `no installed file is named ${trap.file} (rpm -qa lists none)`;
  else if (chosen.offset === undefined) note = 'the kernel printed no file offset and the ELF has no executable segment to compute it from';
  else if (!chosen.bytes) note = `could not read ${chosen.file} at 0x${chosen.offset.toString(16)}`;
  else if (!e) note = `the bytes at 0x${chosen.offset.toString(16)} decode to no valid instruction`;
  const base: Omit<TrapRecord, 'line'> = {
    kind: 'trap',
    file: chosen?.file,
    offset: chosen?.offset,
    ip: trap.ip,
    package: chosen ? await ownerOf(exec, chosen.file) : NO_PACKAGE,
    bytes: chosen?.bytes ? Buffer.from(chosen.bytes).toString('hex') : undefined,
    instruction: e?.text,
    features: e?.features ?? [],
    needs: e ? e.needs : undefined,
    guestLevel,
    fidelity,
    ...(note ? { note } : {}),
    trapLine: trap.line,
  };
  return { ...base, line: forensicsLine(base) };
}
