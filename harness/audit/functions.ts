// Where a file's functions are: symbol ranges (.symtab, .dynsym), else .eh_frame FDEs,
// and the code between them as gaps. The dispatch rules and the scan work on these.
import type { Range } from './eh-frame.js';
import { STT_FUNC, STT_GNU_IFUNC, type ElfFile } from './elf.js';

export interface FunctionRange {
  readonly start: number;
  end: number;
  /** Every symbol name starting in the range, the preferred first. Empty for FDE-only functions and gaps. */
  readonly names: string[];
  /**
   * symbol: sized by a symbol; fde: by an FDE; gap: code no function covers; code: the
   * file has no function boundaries at all; entry: a piece of a gap or of `code` that
   * starts where other code calls or jumps (a function without symbol or CFI).
   */
  readonly source: 'symbol' | 'fde' | 'gap' | 'code' | 'entry';
  /** Exported through .dynsym: callable from other files, so never proven conditional by the call graph. */
  exported: boolean;
  /** Names of the STT_GNU_IFUNC symbols whose resolver this is. */
  readonly resolverOf: string[];
}

/** Gaps shorter than this between functions are alignment padding (nop, int3): not decoded. */
export const MIN_GAP = 16;

/** Functions and gaps covering every code range, sorted and disjoint. */
export function functionRanges(elf: ElfFile, fdes: readonly Range[]): FunctionRange[] {
  const code = [...elf.code].sort((a, b) => a.addr - b.addr);
  const spans = code.map((c) => ({ start: c.addr, end: c.addr + c.size }));
  const rangeOf = (addr: number) => code[functionIndexAt(spans, addr)];

  // Symbols by start address: .symtab names first (locals live there), globals before locals.
  const bySymbol = new Map<number, { names: string[]; size: number; exported: boolean; resolverOf: string[] }>();
  const symbols = [...elf.symbols].filter((s) => (s.type === STT_FUNC || s.type === STT_GNU_IFUNC) && s.shndx !== 0 && s.name && rangeOf(s.value));
  symbols.sort((a, b) => Number(a.dynamic) - Number(b.dynamic) || (a.bind === 0 ? 1 : 0) - (b.bind === 0 ? 1 : 0));
  for (const s of symbols) {
    let entry = bySymbol.get(s.value);
    if (!entry) bySymbol.set(s.value, (entry = { names: [], size: 0, exported: false, resolverOf: [] }));
    if (!entry.names.includes(s.name)) entry.names.push(s.name);
    entry.size = Math.max(entry.size, s.size);
    if (s.dynamic && s.bind !== 0) entry.exported = true;
    if (s.type === STT_GNU_IFUNC && !entry.resolverOf.includes(s.name)) entry.resolverOf.push(s.name);
  }
  const fdeEnd = new Map(fdes.map((f) => [f.start, f.end]));
  const starts = [...new Set([...bySymbol.keys(), ...fdes.map((f) => f.start)])].sort((a, b) => a - b);

  const candidates: FunctionRange[] = [];
  let next = 0;
  for (const [start, s] of [...bySymbol.entries()].sort((a, b) => a[0] - b[0])) {
    const range = rangeOf(start)!;
    const limit = range.addr + range.size;
    while (next < starts.length && starts[next]! <= start) next++;
    const nextStart = Math.min(starts[next] ?? limit, limit);
    const end = s.size > 0 ? start + s.size : (fdeEnd.get(start) ?? nextStart);
    candidates.push({ start, end: Math.min(end, limit), names: s.names, source: 'symbol', exported: s.exported, resolverOf: s.resolverOf });
  }
  for (const f of fdes) {
    const range = rangeOf(f.start);
    if (!range || bySymbol.has(f.start)) continue;
    candidates.push({ start: f.start, end: Math.min(f.end, range.addr + range.size), names: [], source: 'fde', exported: false, resolverOf: [] });
  }
  candidates.sort((a, b) => a.start - b.start || b.end - a.end || (a.source === 'symbol' ? -1 : 1));

  // Disjoint: a range inside another is an alternate entry (its names join the outer
  // one); a range that overlaps the previous one's tail starts where that one ends.
  const functions: FunctionRange[] = [];
  for (const c of candidates) {
    const last = functions.at(-1);
    if (last && c.start < last.end) {
      if (c.end <= last.end) {
        for (const n of c.names) if (!last.names.includes(n)) last.names.push(n);
        for (const n of c.resolverOf) if (!last.resolverOf.includes(n)) last.resolverOf.push(n);
        last.exported ||= c.exported;
        continue;
      }
      functions.push({ ...c, start: last.end, names: [], resolverOf: [] });
      continue;
    }
    if (c.end > c.start) functions.push(c);
  }

  // The code no function covers: PLT stubs, padding, code without CFI, data. Gaps of
  // less than MIN_GAP bytes between functions are alignment padding, not decoded.
  const out: FunctionRange[] = [];
  const none = functions.length === 0;
  const pushGap = (start: number, end: number) => {
    if (none || end - start >= MIN_GAP) out.push(gap(start, end, none));
  };
  let i = 0;
  for (const range of code) {
    let cursor = range.addr;
    const limit = range.addr + range.size;
    while (i < functions.length && functions[i]!.start < limit) {
      const f = functions[i++]!;
      if (f.start > cursor) pushGap(cursor, f.start);
      out.push(f);
      cursor = Math.max(cursor, f.end);
    }
    if (cursor < limit) pushGap(cursor, limit);
  }
  return out;
}

const gap = (start: number, end: number, whole: boolean): FunctionRange => ({ start, end, names: [], source: whole ? 'code' : 'gap', exported: false, resolverOf: [] });

/** The index of the function containing `addr` in sorted, disjoint `functions`, or -1. */
export function functionIndexAt(functions: readonly Pick<FunctionRange, 'start' | 'end'>[], addr: number): number {
  let lo = 0;
  let hi = functions.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const f = functions[mid]!;
    if (addr < f.start) hi = mid - 1;
    else if (addr >= f.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Splits a gap (or boundary-less code) at the addresses other code enters it: the pieces after the first are functions ('entry'). */
export function splitAtEntries(fn: FunctionRange, entries: readonly number[]): FunctionRange[] {
  const points = [...new Set(entries.filter((e) => e > fn.start && e < fn.end))].sort((a, b) => a - b);
  if (!points.length) return [fn];
  const bounds = [fn.start, ...points, fn.end];
  return bounds.slice(0, -1).map((start, i) => ({ start, end: bounds[i + 1]!, names: [], source: i === 0 ? fn.source : 'entry', exported: false, resolverOf: [] }));
}
