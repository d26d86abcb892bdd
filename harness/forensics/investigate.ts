// Gathers the facts of a SIGILL from the guest through one callback that runs a command
// there (argument arrays only): the faulting file from the dying process's own mappings
// (the record the guest's core_pattern handler wrote), else from its name; the 16 bytes
// at the trapping offset; every package that owns the file; then explains the
// instruction. Where the facts do not settle the file or the owner, the record says
// "ambiguous" and lists them all instead of choosing. Independent of guests and of the
// cell interpreter, so either can call it.
import path from 'node:path';
import type { Fidelity } from '../levels/canaries.js';
import type { LevelName } from '../levels/table.js';
import { explainBytes, hexBytes, offsetFromLoadSegment, type Explanation } from './explain.js';
import { forensicsLine, ownersLabel, type ForensicsRecord, type RefusalRecord, type TrapRecord } from '../model/forensics-record.js';
import { isFileMapping, mappingAt, parseSigillRecord, SIGILL_RECORD_DIR, type SigillRecord } from './sigill-record.js';
import type { GlibcRefusal, TrapLine } from './trap-line.js';
import { installedFilesNamed, packageOwners } from './package-owner.js';

export type GuestExec = (argv: readonly string[]) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>;

export interface InvestigateOptions {
  readonly exec: GuestExec;
  /** The program the harness ran, when known: used when its basename is the trapping file's and the process left no record. */
  readonly knownPath?: string;
  readonly guestLevel: LevelName;
  readonly fidelity: Fidelity;
}

async function readAt(exec: GuestExec, file: string, offset: number, length: number): Promise<Uint8Array | undefined> {
  const r = await exec(['od', '-An', '-tx1', '-v', '-j', String(offset), '-N', String(length), file]);
  if (r.exitCode !== 0) return undefined;
  const bytes = hexBytes(r.stdout);
  return bytes.length ? bytes : undefined;
}

/** The record the core handler wrote for the thread `tid`, if it wrote one. */
async function sigillRecord(exec: GuestExec, tid: number): Promise<SigillRecord | undefined> {
  const r = await exec(['cat', `${SIGILL_RECORD_DIR}/${tid}`]);
  return r.exitCode === 0 ? parseSigillRecord(r.stdout) : undefined;
}

/** Where the trap happened, as far as the facts settle it. */
interface Place {
  readonly file: string | undefined;
  readonly offset: number | undefined;
  readonly bytes: Uint8Array | undefined;
  readonly located: TrapRecord['located'];
  readonly note?: string;
}

/**
 * Whether a record is this trap's and not one a reused thread id left: the file the
 * kernel named is the one mapped at the ip (or, for code in no file, the task's name
 * is its executable's).
 */
export function recordMatches(record: SigillRecord, trap: TrapLine): boolean {
  const at = mappingAt(record, record.ip ?? trap.ip);
  if (trap.vmaSize > 0) return at !== undefined && path.posix.basename(at.mapping.path) === trap.file;
  return path.posix.basename(record.exe).startsWith(trap.comm);
}

/** The file and offset from the process's own mapping of the ip. */
async function placeByMapping(exec: GuestExec, record: SigillRecord, trap: TrapLine): Promise<Place> {
  const ip = record.ip ?? trap.ip;
  const at = mappingAt(record, ip);
  if (!at || !isFileMapping(at.mapping)) {
    const where = at ? (at.mapping.path ? `${at.mapping.path} of ${record.exe}` : `anonymous memory of ${record.exe}`) : `no mapping of ${record.exe}`;
    return { file: undefined, offset: undefined, bytes: record.bytes, located: 'mapping', note: `the ip lies in ${where}, in no file: code made at run time (JIT) or a jump into data` };
  }
  const { mapping, fileOffset } = at;
  const bytes = record.bytes ?? (mapping.deleted ? undefined : await readAt(exec, mapping.path, fileOffset, 16));
  return { file: mapping.path, offset: fileOffset, bytes, located: 'mapping', ...(mapping.deleted ? { note: `${mapping.path} was deleted or replaced after it was mapped` } : {}) };
}

/** Without a record (an image without the handler): the program the harness ran, or the one installed file of that name; several are "ambiguous". */
async function placeByName(exec: GuestExec, trap: TrapLine, knownPath: string | undefined): Promise<Place> {
  const byName = knownPath && path.posix.basename(knownPath) === trap.file ? [knownPath] : await installedFilesNamed(exec, trap.file);
  const why = `the process left no mapping record (${SIGILL_RECORD_DIR}/${trap.pid})`;
  if (byName.length === 0) return { file: undefined, offset: undefined, bytes: undefined, located: 'none', note: `${why} and no installed file is named ${trap.file} (rpm -qa lists none)` };
  if (byName.length > 1) return { file: undefined, offset: undefined, bytes: undefined, located: 'ambiguous', note: `ambiguous: ${why} and ${byName.length} installed files are named ${trap.file}: ${byName.join(', ')}` };
  const file = byName[0]!;
  let offset = trap.offset;
  if (offset === undefined && trap.vmaStart) {
    const head = await readAt(exec, file, 0, 4096);
    offset = head ? offsetFromLoadSegment(head, trap.ip, trap.vmaStart) : undefined;
  }
  const bytes = offset === undefined ? undefined : await readAt(exec, file, offset, 16);
  return { file, offset, bytes, located: knownPath === file ? 'program' : 'name' };
}

/** The full record of a trap (or a glibc refusal) in a guest at `guestLevel`. */
export async function investigateTrap(trap: TrapLine | GlibcRefusal, options: InvestigateOptions): Promise<ForensicsRecord> {
  const { exec, guestLevel, fidelity, knownPath } = options;
  if (trap.kind === 'glibc-refusal') {
    const owners = knownPath ? await packageOwners(exec, knownPath) : [];
    const base: Omit<RefusalRecord, 'line'> = { kind: 'glibc-refusal', package: ownersLabel(owners), owners, file: knownPath, needs: trap.level, guestLevel, fidelity, trapLine: trap.line };
    return { ...base, line: forensicsLine(base) };
  }
  const found = await sigillRecord(exec, trap.pid);
  const record = found && recordMatches(found, trap) ? found : undefined;
  const place = record ? await placeByMapping(exec, record, trap) : await placeByName(exec, trap, knownPath);
  const e: Explanation | undefined = place.bytes ? explainBytes(place.bytes, trap.ip) : undefined;
  let note = e?.note ?? place.note;
  if (!note && place.file) {
    if (place.offset === undefined) note = 'the kernel printed no file offset and the ELF has no executable segment to compute it from';
    else if (!place.bytes) note = `could not read ${place.file} at 0x${place.offset.toString(16)}`;
    else if (!e) note = `the bytes at 0x${place.offset.toString(16)} decode to no valid instruction`;
  } else if (!note && place.bytes && !e) note = 'the bytes at the ip decode to no valid instruction';
  const owners = place.file ? await packageOwners(exec, place.file) : [];
  const base: Omit<TrapRecord, 'line'> = {
    kind: 'trap',
    file: place.file,
    offset: place.offset,
    ip: trap.ip,
    package: ownersLabel(owners),
    owners,
    located: place.located,
    ...(record ? { exe: record.exe } : {}),
    bytes: place.bytes ? Buffer.from(place.bytes).toString('hex') : undefined,
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
