// Parses what the kernel and glibc print when a program meets an instruction its CPU
// lacks: the kernel's "trap invalid opcode" line (with or without the file offset) and
// glibc's loader refusing a binary built for a higher level.
import { parseLevelName, type LevelName } from '../levels/table.js';

export interface TrapLine {
  readonly kind: 'trap';
  /** The task's name (comm, at most 15 characters) and pid. */
  readonly comm: string;
  readonly pid: number;
  readonly ip: number;
  readonly sp: number;
  readonly error: number;
  /** The mapped file's name (its basename) the ip lies in. */
  readonly file: string;
  /** The ip's offset in that file; undefined when the kernel did not print it (before 6.x). */
  readonly offset: number | undefined;
  readonly vmaStart: number;
  readonly vmaSize: number;
  readonly line: string;
}

export interface GlibcRefusal {
  readonly kind: 'glibc-refusal';
  /** The level the loaded binary (or library) was built for. */
  readonly level: LevelName;
  readonly line: string;
}

// traps: canary[146] trap invalid opcode ip:401c16 sp:7fff6915a9e0 error:0 in canary[1c16,401000+7a000]
// (older kernels: ... in canary[401000+7a000])
const TRAP = /traps: (.+?)\[(\d+)\] trap invalid opcode ip:([0-9a-f]+) sp:([0-9a-f]+) error:([0-9a-f]+)(?: in (.+?)\[(?:([0-9a-f]+),)?([0-9a-f]+)\+([0-9a-f]+)\])?/;
const GLIBC = /Fatal glibc error: CPU does not support (x86-64-v[1-4])/;

/** The trap or refusal a console or stderr line reports, or undefined for any other line. */
export function parseTrapLine(line: string): TrapLine | GlibcRefusal | undefined {
  const glibc = GLIBC.exec(line);
  if (glibc) return { kind: 'glibc-refusal', level: parseLevelName(glibc[1]!)!, line: line.trim() };
  const m = TRAP.exec(line);
  if (!m) return undefined;
  const hex = (s: string | undefined) => (s === undefined ? undefined : Number.parseInt(s, 16));
  return {
    kind: 'trap',
    comm: m[1]!,
    pid: Number(m[2]),
    ip: hex(m[3])!,
    sp: hex(m[4])!,
    error: hex(m[5])!,
    // Without "in NAME[...]" (an anonymous mapping, JIT code) only the task's name is known.
    file: m[6] ?? m[1]!,
    offset: hex(m[7]),
    vmaStart: hex(m[8]) ?? 0,
    vmaSize: hex(m[9]) ?? 0,
    line: line.trim(),
  };
}
