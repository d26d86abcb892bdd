// What the guest's core_pattern handler left of a process that died of SIGILL
// (/run/levelgate/sigill/TID, written by `levelgate-agent --core` while /proc/PID still
// existed): its executable, the faulting ip, the bytes there and its mappings; and the
// mapping the ip lies in, which names the faulting file by its path, not its basename.
import { hexBytes } from './explain.js';

/** Where the agent's core handler writes its records in the guest. */
export const SIGILL_RECORD_DIR = '/run/levelgate/sigill';

export interface Mapping {
  readonly start: number;
  readonly end: number;
  readonly perms: string;
  /** The file offset mapped at `start`. */
  readonly offset: number;
  readonly inode: number;
  /** The mapped file's path; "[heap]", "[stack]", "[vdso]"; empty for anonymous memory. */
  readonly path: string;
  /** The kernel's " (deleted)": the file was removed or replaced while mapped. */
  readonly deleted: boolean;
}

export interface SigillRecord {
  readonly pid: number;
  readonly tid: number;
  /** /proc/PID/exe at the time of death. */
  readonly exe: string;
  /** The faulting ip from the core's NT_PRSTATUS note; undefined when the core could not be read. */
  readonly ip: number | undefined;
  /** The bytes at the ip, read from the process's memory (also for code in no file). */
  readonly bytes: Uint8Array | undefined;
  readonly maps: readonly Mapping[];
}

// 55d0c0a00000-55d0c0a01000 r-xp 00001000 fd:00 1234   /tmp/c (deleted)
const MAP = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+([0-9a-f]+)\s+\S+\s+(\d+)\s*(.*)$/;

export function parseMapsLine(line: string): Mapping | undefined {
  const m = MAP.exec(line.trim());
  if (!m) return undefined;
  const rest = m[6]!.trim();
  const deleted = rest.endsWith(' (deleted)');
  return {
    start: Number.parseInt(m[1]!, 16),
    end: Number.parseInt(m[2]!, 16),
    perms: m[3]!,
    offset: Number.parseInt(m[4]!, 16),
    inode: Number(m[5]),
    path: deleted ? rest.slice(0, -' (deleted)'.length) : rest,
    deleted,
  };
}

/** Parses a record; undefined when the text is not one (no pid line). */
export function parseSigillRecord(text: string): SigillRecord | undefined {
  const fields = new Map<string, string>();
  const lines = text.split('\n');
  let i = 0;
  for (; i < lines.length && lines[i] !== 'maps'; i++) {
    const line = lines[i]!;
    const space = line.indexOf(' ');
    fields.set(space < 0 ? line : line.slice(0, space), space < 0 ? '' : line.slice(space + 1));
  }
  const pid = Number(fields.get('pid'));
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const ip = Number.parseInt(fields.get('ip') ?? '', 16);
  const bytes = hexBytes(fields.get('bytes') ?? '');
  return {
    pid,
    tid: Number(fields.get('tid') ?? pid),
    exe: fields.get('exe') ?? '',
    ip: Number.isFinite(ip) && ip > 0 ? ip : undefined,
    bytes: bytes.length ? bytes : undefined,
    maps: lines.slice(i + 1).flatMap((l) => parseMapsLine(l) ?? []),
  };
}

/** The mapping that holds `ip`, and the ip's offset in its file. */
export function mappingAt(record: SigillRecord, ip: number): { readonly mapping: Mapping; readonly fileOffset: number } | undefined {
  const mapping = record.maps.find((m) => ip >= m.start && ip < m.end);
  return mapping ? { mapping, fileOffset: ip - mapping.start + mapping.offset } : undefined;
}

/** A mapping backed by a file (not the heap, the stack, the vDSO or anonymous memory: JIT code). */
export const isFileMapping = (m: Mapping): boolean => m.path.startsWith('/');
