// ELF32/ELF64 little-endian x86 reader for the ISA audit: code ranges, symbols, the
// relocations that say where IFUNC resolvers are and what data points at code.
// Every read is bounds-checked, so a damaged file fails with the reason, not garbage.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export const EM_386 = 3;
export const EM_X86_64 = 62;
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const STT_FUNC = 2;
export const STT_GNU_IFUNC = 10;

const SHT_PROGBITS = 1;
const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_DYNSYM = 11;
const SHT_REL = 9;
const SHT_INIT_ARRAY = 14;
const SHT_FINI_ARRAY = 15;
const SHT_PREINIT_ARRAY = 16;
const SHF_EXECINSTR = 0x4;
const PT_LOAD = 1;
const PF_X = 1;

/** Relocation types, per machine: [IRELATIVE, RELATIVE, absolute word, GLOB_DAT, JUMP_SLOT]. */
const RELOC = {
  [EM_X86_64]: { irelative: 37, relative: 8, absolute: 1, globDat: 6, jumpSlot: 7 },
  [EM_386]: { irelative: 42, relative: 8, absolute: 1, globDat: 6, jumpSlot: 7 },
} as const;

/** The file is damaged or truncated: its structure points outside itself. */
export class ElfError extends Error {}
/** A well-formed ELF the audit does not look into (kernel-space addresses). */
export class ElfUnsupported extends ElfError {}

export interface Section {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly info: number;
  readonly entsize: number;
}

export interface Segment {
  readonly type: number;
  readonly flags: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly filesz: number;
  readonly memsz: number;
}

/** Bytes of code at an address: an executable section, or an executable segment when there are no sections. */
export interface CodeRange {
  readonly name: string;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
}

export interface ElfSymbol {
  readonly name: string;
  readonly value: number;
  readonly size: number;
  readonly type: number;
  readonly bind: number;
  /** 0 for an import (undefined symbol). */
  readonly shndx: number;
  readonly dynamic: boolean;
}

export interface ElfFile {
  readonly path: string;
  readonly size: number;
  readonly bits: 32 | 64;
  readonly type: number;
  readonly machine: number;
  readonly entry: number;
  readonly sections: readonly Section[];
  readonly segments: readonly Segment[];
  readonly code: readonly CodeRange[];
  /** True when `code` comes from PT_LOAD segments (the file has no section headers). */
  readonly fromSegments: boolean;
  readonly symbols: readonly ElfSymbol[];
  readonly ehFrame: Section | undefined;
  /** IRELATIVE relocations' resolver addresses. */
  readonly irelative: readonly number[];
  /** GOT slot address → the symbol a GLOB_DAT, JUMP_SLOT or absolute relocation puts there. */
  readonly gotSymbols: ReadonlyMap<number, string>;
  /** Pointers in data: where each is (`at`) and what it points at (relative and absolute relocations, init/fini arrays). */
  readonly dataRefs: readonly DataRef[];
  /** What the loader calls from the preinit, init and fini arrays (entry points). */
  readonly initFini: readonly number[];
}

export interface DataRef {
  readonly at: number;
  readonly target: number;
}

/** What a file is, from its first bytes. */
export type ElfProbe = { readonly kind: 'elf' } | { readonly kind: 'not-elf'; readonly reason: string } | { readonly kind: 'other-elf'; readonly reason: string };

const MACHINE_NAMES: Record<number, string> = { 2: 'SPARC', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 'S/390', 40: 'ARM', 183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch', 247: 'BPF' };

function describeStart(head: Buffer): string {
  if (head.length === 0) return 'the file is empty';
  if (head.subarray(0, 2).toString('latin1') === '#!') return 'it is a script (#!)';
  if (head.subarray(0, 7).toString('latin1') === '!<arch>') return 'it is an ar archive (a static library)';
  const printable = [...head.subarray(0, 8)].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
  return `it starts with ${[...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')} (“${printable}”), not 7f 45 4c 46`;
}

/** Classifies a file by its header: an x86 ELF to audit, another machine's ELF, or no ELF at all. */
export function probeElf(head: Buffer): ElfProbe {
  if (head.length < 4 || head.readUInt32BE(0) !== 0x7f454c46) return { kind: 'not-elf', reason: `not an ELF file: ${describeStart(head)}` };
  if (head.length < 20) return { kind: 'elf' }; // readElf names the truncation
  const cls = head[4];
  const data = head[5];
  if (data !== 1) return { kind: 'other-elf', reason: 'big-endian ELF: not x86 code' };
  if (cls !== 1 && cls !== 2) return { kind: 'elf' };
  const machine = head.readUInt16LE(18);
  if (machine !== EM_X86_64 && machine !== EM_386) return { kind: 'other-elf', reason: `ELF for ${MACHINE_NAMES[machine] ?? `machine ${machine}`}: not x86 code` };
  return { kind: 'elf' };
}

const hex = (n: number): string => `0x${n.toString(16)}`;

class Reader {
  constructor(
    readonly fd: number,
    readonly size: number,
    readonly path: string,
  ) {}

  /** Exactly `length` bytes at `offset`, or an ElfError naming what was cut off. */
  read(offset: number, length: number, what: string): Buffer {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new ElfError(`truncated or damaged: ${what} at ${hex(offset)} (+${length} bytes) lies beyond the end of the file (${this.size} bytes)`);
    }
    const buffer = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = readSync(this.fd, buffer, got, length - got, offset + got);
      if (n <= 0) throw new ElfError(`could not read ${what}: the file ended at ${hex(offset + got)}`);
      got += n;
    }
    return buffer;
  }
}

/** Reads an x86 ELF file's structure. Throws ElfError (damaged, truncated) or the fs error (unreadable). */
export function readElf(path: string): ElfFile {
  const fd = openSync(path, 'r');
  try {
    return parse(new Reader(fd, fstatSync(fd).size, path));
  } finally {
    closeSync(fd);
  }
}

/** Reads `length` bytes at `offset` of a file (the code of a range). */
export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    return new Reader(fd, fstatSync(fd).size, path).read(offset, length, 'code');
  } finally {
    closeSync(fd);
  }
}

function parse(r: Reader): ElfFile {
  const ident = r.read(0, Math.min(64, r.size), 'the ELF header');
  if (ident.length < 52) throw new ElfError(`truncated: ${r.size} bytes is shorter than an ELF header`);
  const cls = ident[4];
  if (cls !== 1 && cls !== 2) throw new ElfError(`damaged: ELF class ${cls} is neither 32- nor 64-bit`);
  const is64 = cls === 2;
  if (is64 && ident.length < 64) throw new ElfError(`truncated: ${r.size} bytes is shorter than an ELF64 header`);
  const word = (b: Buffer, o: number): number => {
    if (!is64) return b.readUInt32LE(o);
    const v = b.readBigUInt64LE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfUnsupported(`not audited: value ${v.toString(16)} at header offset ${o} is above 2^53 (kernel-space addresses are not audited)`);
    return Number(v);
  };
  const type = ident.readUInt16LE(16);
  const machine = ident.readUInt16LE(18);
  const entry = word(ident, 0x18);
  const phoff = word(ident, is64 ? 0x20 : 0x1c);
  const shoff = word(ident, is64 ? 0x28 : 0x20);
  const phentsize = ident.readUInt16LE(is64 ? 0x36 : 0x2a);
  const phnum = ident.readUInt16LE(is64 ? 0x38 : 0x2c);
  const shentsize = ident.readUInt16LE(is64 ? 0x3a : 0x2e);
  let shnum = ident.readUInt16LE(is64 ? 0x3c : 0x30);
  let shstrndx = ident.readUInt16LE(is64 ? 0x3e : 0x32);

  const segments: Segment[] = [];
  if (phoff !== 0 && phnum > 0) {
    if (phentsize < (is64 ? 56 : 32)) throw new ElfError(`damaged: program header entry size ${phentsize} is too small`);
    const ph = r.read(phoff, phnum * phentsize, 'the program header table');
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      segments.push({
        type: ph.readUInt32LE(o),
        flags: ph.readUInt32LE(o + (is64 ? 4 : 24)),
        offset: word(ph, o + (is64 ? 8 : 4)),
        vaddr: word(ph, o + (is64 ? 16 : 8)),
        filesz: word(ph, o + (is64 ? 32 : 16)),
        memsz: word(ph, o + (is64 ? 40 : 20)),
      });
    }
  }

  const sections: Section[] = [];
  if (shoff !== 0) {
    if (shentsize < (is64 ? 64 : 40)) throw new ElfError(`damaged: section header entry size ${shentsize} is too small`);
    if (shnum === 0 || shstrndx === 0xffff) {
      // Extended numbering: the real counts live in section 0.
      const s0 = r.read(shoff, shentsize, 'section header 0');
      if (shnum === 0) shnum = word(s0, is64 ? 32 : 20);
      if (shstrndx === 0xffff) shstrndx = s0.readUInt32LE(is64 ? 40 : 24);
    }
    const sh = r.read(shoff, shnum * shentsize, 'the section header table');
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      raw.push({
        index: i,
        nameOffset: sh.readUInt32LE(o),
        type: sh.readUInt32LE(o + 4),
        flags: word(sh, o + 8),
        addr: word(sh, o + (is64 ? 16 : 12)),
        offset: word(sh, o + (is64 ? 24 : 16)),
        size: word(sh, o + (is64 ? 32 : 20)),
        link: sh.readUInt32LE(o + (is64 ? 40 : 24)),
        info: sh.readUInt32LE(o + (is64 ? 44 : 28)),
        entsize: word(sh, o + (is64 ? 56 : 36)),
      });
    }
    const strtab = shstrndx > 0 && shstrndx < raw.length ? raw[shstrndx] : undefined;
    const names = strtab && strtab.type !== 8 ? r.read(strtab.offset, strtab.size, 'the section name table') : undefined;
    for (const s of raw) {
      let name = `#${s.index}`;
      if (names && s.nameOffset < names.length) {
        const end = names.indexOf(0, s.nameOffset);
        name = names.toString('latin1', s.nameOffset, end < 0 ? names.length : end);
      }
      // SHT_NOBITS (8) occupies no file bytes; everything else must lie inside the file.
      if (s.type !== 8 && s.type !== 0 && s.size > 0 && s.offset + s.size > r.size) {
        throw new ElfError(`truncated or damaged: section ${name} at ${hex(s.offset)} (+${s.size} bytes) lies beyond the end of the file (${r.size} bytes)`);
      }
      sections.push({ index: s.index, name, type: s.type, flags: s.flags, addr: s.addr, offset: s.offset, size: s.size, link: s.link, info: s.info, entsize: s.entsize });
    }
  }

  // Relocatable objects have no addresses: each section gets its file offset as one, so
  // code, symbols and examples still have distinct addresses.
  const relocatable = type === ET_REL;
  const addrOf = (s: Section): number => (relocatable ? s.offset : s.addr);
  let code: CodeRange[] = sections
    .filter((s) => s.type === SHT_PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0)
    .map((s) => ({ name: s.name, addr: addrOf(s), offset: s.offset, size: s.size }));
  const fromSegments = sections.length === 0;
  if (fromSegments) {
    code = segments
      .filter((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0 && p.filesz > 0)
      .map((p, i) => {
        if (p.offset + p.filesz > r.size) throw new ElfError(`truncated: executable segment ${i} at ${hex(p.offset)} (+${p.filesz} bytes) lies beyond the end of the file (${r.size} bytes)`);
        return { name: `LOAD#${i}`, addr: p.vaddr, offset: p.offset, size: p.filesz };
      });
  }

  const symbols: ElfSymbol[] = [];
  const symbolTables = new Map<number, ElfSymbol[]>();
  for (const s of sections) {
    if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
    const table = readSymbols(r, s, sections, is64, relocatable, word);
    symbolTables.set(s.index, table);
    symbols.push(...table);
  }

  const irelative: number[] = [];
  const gotSymbols = new Map<number, string>();
  const dataRefs: DataRef[] = [];
  const kinds = RELOC[machine as keyof typeof RELOC];
  if (!relocatable && kinds) {
    const wordAt = virtualWordReader(r, segments, is64);
    for (const s of sections) {
      if (s.type !== SHT_RELA && s.type !== SHT_REL) continue;
      const rela = s.type === SHT_RELA;
      const entsize = rela ? (is64 ? 24 : 12) : is64 ? 16 : 8;
      const bytes = r.read(s.offset, s.size, `relocation section ${s.name}`);
      const table = symbolTables.get(s.link) ?? [];
      for (let o = 0; o + entsize <= bytes.length; o += entsize) {
        const offset = word(bytes, o);
        let relType: number;
        let symIndex: number;
        if (is64) {
          const info = bytes.readBigUInt64LE(o + 8);
          relType = Number(info & 0xffffffffn);
          symIndex = Number(info >> 32n);
        } else {
          const info = bytes.readUInt32LE(o + 4);
          relType = info & 0xff;
          symIndex = info >>> 8;
        }
        const addend = (): number | undefined => (rela ? (is64 ? Number(bytes.readBigInt64LE(o + 16)) : bytes.readInt32LE(o + 8)) : wordAt(offset));
        if (relType === kinds.irelative) {
          const a = addend();
          if (a !== undefined) irelative.push(a);
        } else if (relType === kinds.relative && rela) {
          // (REL files keep the addend in place: one read per relocation is not worth it for i386.)
          const a = addend();
          if (a !== undefined) dataRefs.push({ at: offset, target: a });
        } else if (relType === kinds.globDat || relType === kinds.jumpSlot || relType === kinds.absolute) {
          const sym = table[symIndex];
          if (sym?.name) gotSymbols.set(offset, sym.name);
          if (relType === kinds.absolute && sym && sym.shndx !== 0) dataRefs.push({ at: offset, target: sym.value + (addend() ?? 0) });
        }
      }
    }
    // Without relocations (a static, non-PIE executable) the init and fini arrays hold addresses as they are.
    for (const s of sections) {
      if (s.type !== SHT_INIT_ARRAY && s.type !== SHT_FINI_ARRAY && s.type !== SHT_PREINIT_ARRAY) continue;
      const bytes = r.read(s.offset, s.size, `section ${s.name}`);
      for (let o = 0; o + (is64 ? 8 : 4) <= bytes.length; o += is64 ? 8 : 4) {
        const v = is64 ? Number(bytes.readBigUInt64LE(o)) : bytes.readUInt32LE(o);
        if (v !== 0 && v !== -1) dataRefs.push({ at: s.addr + o, target: v });
      }
    }
  }

  const arrays = sections.filter((s) => s.type === SHT_INIT_ARRAY || s.type === SHT_FINI_ARRAY || s.type === SHT_PREINIT_ARRAY);
  const initFini = dataRefs.filter((d) => arrays.some((s) => d.at >= s.addr && d.at < s.addr + s.size)).map((d) => d.target);
  const ehFrame = sections.find((s) => s.name === '.eh_frame' && s.type !== 8 && s.size > 0);
  return {
    path: r.path,
    size: r.size,
    bits: is64 ? 64 : 32,
    type,
    machine,
    entry,
    sections,
    segments,
    code,
    fromSegments,
    symbols,
    ehFrame: ehFrame && relocatable ? undefined : ehFrame,
    irelative,
    gotSymbols,
    dataRefs,
    initFini,
  };
}

function readSymbols(
  r: Reader,
  s: Section,
  sections: readonly Section[],
  is64: boolean,
  relocatable: boolean,
  word: (b: Buffer, o: number) => number,
): ElfSymbol[] {
  const entsize = is64 ? 24 : 16;
  const bytes = r.read(s.offset, s.size, `symbol table ${s.name}`);
  const strSection = sections[s.link];
  const strings = strSection ? r.read(strSection.offset, strSection.size, `string table ${strSection.name}`) : Buffer.alloc(0);
  const out: ElfSymbol[] = [];
  for (let o = 0; o + entsize <= bytes.length; o += entsize) {
    const nameOffset = bytes.readUInt32LE(o);
    const info = bytes[o + (is64 ? 4 : 12)]!;
    const shndx = bytes.readUInt16LE(o + (is64 ? 6 : 14));
    let value: number;
    let size: number;
    try {
      value = word(bytes, o + (is64 ? 8 : 4));
      size = word(bytes, o + (is64 ? 16 : 8));
    } catch (error) {
      if (error instanceof ElfUnsupported) continue; // a kernel-space address in a symbol: nothing the audit can place
      throw error;
    }
    let name = '';
    if (nameOffset < strings.length) {
      const end = strings.indexOf(0, nameOffset);
      name = strings.toString('latin1', nameOffset, end < 0 ? strings.length : end);
    }
    if (relocatable && shndx > 0 && shndx < 0xff00) value += sections[shndx]?.offset ?? 0;
    out.push({ name, value, size, type: info & 0xf, bind: info >> 4, shndx, dynamic: s.type === SHT_DYNSYM });
  }
  return out;
}

/** Reads the word at a virtual address through the PT_LOAD segments (REL relocations keep their addend there). */
function virtualWordReader(r: Reader, segments: readonly Segment[], is64: boolean): (vaddr: number) => number | undefined {
  return (vaddr) => {
    const seg = segments.find((p) => p.type === PT_LOAD && vaddr >= p.vaddr && vaddr + (is64 ? 8 : 4) <= p.vaddr + p.filesz);
    if (!seg) return undefined;
    const b = r.read(seg.offset + (vaddr - seg.vaddr), is64 ? 8 : 4, 'a relocated word');
    return is64 ? Number(b.readBigUInt64LE(0)) : b.readUInt32LE(0);
  };
}
