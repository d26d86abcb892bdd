// The forensics record of one SIGILL and the one line that states it:
// "PACKAGE: /path+0xOFF: INSTRUCTION needs FEATURE (x86-64-vN); this guest is x86-64-vM".
import type { Fidelity } from '../levels/canaries.js';
import type { LevelName } from '../levels/table.js';

export interface TrapRecord {
  readonly kind: 'trap';
  /** The file's full path in the guest; undefined when it could not be found. */
  readonly file: string | undefined;
  readonly offset: number | undefined;
  readonly ip: number;
  /** The owner's NAME-[EPOCH:]VERSION-RELEASE.ARCH (ownersLabel(owners)): "(no package)", or "ambiguous (…)" when several own the file. */
  readonly package: string;
  /** Every package that owns the file: rpm's NEVRAs, else dpkg's or pacman's "NAME-VERSION.ARCH (dpkg)" / "(pacman)". */
  readonly owners: readonly string[];
  /**
   * How the file was found: from the dying process's own mapping of the ip (the core
   * handler's record), as the program the harness ran, as the one installed file of that
   * name; ambiguous when several have that name; none when nothing does.
   */
  readonly located: 'mapping' | 'program' | 'name' | 'ambiguous' | 'none';
  /** The dying process's executable (from its record), when known. */
  readonly exe?: string;
  /** The 16 bytes read at the offset, as hex. */
  readonly bytes: string | undefined;
  /** Intel syntax; undefined when nothing could be read or decoded. */
  readonly instruction: string | undefined;
  /** psABI feature names, then features in no level (AES…). */
  readonly features: readonly string[];
  /** The lowest level with every feature; null: some feature is in no level; undefined: unknown. */
  readonly needs: LevelName | null | undefined;
  readonly guestLevel: LevelName;
  readonly fidelity: Fidelity;
  /** What got in the way of a full record, or a remark (ud2). */
  readonly note?: string;
  /** The kernel line it came from. */
  readonly trapLine: string;
  /** forensicsLine(this). */
  readonly line: string;
}

export interface RefusalRecord {
  readonly kind: 'glibc-refusal';
  readonly package: string;
  readonly owners: readonly string[];
  readonly file: string | undefined;
  readonly needs: LevelName;
  readonly guestLevel: LevelName;
  readonly fidelity: Fidelity;
  readonly trapLine: string;
  readonly line: string;
}

export type ForensicsRecord = TrapRecord | RefusalRecord;

const label = (level: LevelName) => `x86-64-${level}`;

/** The package a record names: its one owner, "(no package)", or every owner under "ambiguous" (never one chosen). */
export const ownersLabel = (owners: readonly string[]): string =>
  owners.length === 0 ? '(no package)' : owners.length === 1 ? owners[0]! : `ambiguous (${owners.length} packages own it: ${owners.join(', ')})`;

/** Whether `nevra` owns the record's file (alone or among several). */
export const ownedBy = (r: ForensicsRecord, nevra: string): boolean => r.owners.includes(nevra);

/** The one-line statement of a record (its `line` field is this). */
export function forensicsLine(r: Omit<TrapRecord, 'line'> | Omit<RefusalRecord, 'line'>): string {
  const tail = `this guest is ${label(r.guestLevel)}${r.fidelity !== 'traps' ? ` (fidelity ${r.fidelity})` : ''}`;
  if (r.kind === 'glibc-refusal') return `${r.package}: ${r.file ?? '(the program)'}: glibc refused to load it: CPU does not support ${label(r.needs)}; ${tail}`;
  const where = r.file ? `${r.file}${r.offset !== undefined ? `+0x${r.offset.toString(16)}` : ''}` : `ip 0x${r.ip.toString(16)}`;
  if (!r.instruction) return `${r.package}: ${where}: ${r.note ?? 'the instruction could not be read'}; ${tail}`;
  const needs = r.needs === undefined ? '' : r.needs === null ? ' (not in any psABI level)' : ` (${label(r.needs)})`;
  const what = r.features.length ? `needs ${r.features.join(', ')}${needs}` : `needs no CPU feature (${r.note ?? 'another cause'})`;
  return `${r.package}: ${where}: ${r.instruction} ${what}; ${tail}`;
}
