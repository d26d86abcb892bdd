// Function boundaries and names of a Go program from its .gopclntab (Go 1.18 and later),
// which stripping keeps: what the audit uses when the file has no symbol table.
import { readBytes, STT_FUNC, type ElfFile, type ElfSymbol } from './elf.js';

const MAGIC_118 = 0xfffffff0;
const MAGIC_120 = 0xfffffff1;

/** The functions .gopclntab lists, as local function symbols; empty when there is none or its format is older or damaged. */
export function goFunctions(elf: Pick<ElfFile, 'path' | 'sections'>): ElfSymbol[] {
  const section = elf.sections.find((s) => s.name === '.gopclntab' && s.size >= 72);
  const text = elf.sections.find((s) => s.name === '.text');
  if (!section || !text) return [];
  const b = readBytes(elf.path, section.offset, section.size);
  const magic = b.readUInt32LE(0);
  if ((magic !== MAGIC_118 && magic !== MAGIC_120) || b[7] !== 8) return [];
  const word = (o: number): number => Number(b.readBigUInt64LE(o));
  const nfunc = word(8);
  const textStart = word(24) || text.addr;
  const funcnames = word(32);
  const functab = word(64);
  const inside = (o: number, n: number) => Number.isSafeInteger(o) && o >= 0 && o + n <= b.length;
  if (!inside(functab, (nfunc * 2 + 1) * 4) || !inside(funcnames, 0)) return [];
  const out: ElfSymbol[] = [];
  for (let i = 0; i < nfunc; i++) {
    const entry = b.readUInt32LE(functab + i * 8);
    const funcoff = b.readUInt32LE(functab + i * 8 + 4);
    const next = b.readUInt32LE(functab + (i + 1) * 8);
    const func = functab + funcoff;
    if (!inside(func, 8) || next < entry) return [];
    const nameAt = funcnames + b.readInt32LE(func + 4);
    const nul = inside(nameAt, 1) ? b.indexOf(0, nameAt) : -1;
    const name = nul > nameAt ? b.toString('latin1', nameAt, Math.min(nul, nameAt + 512)) : '';
    out.push({ name, value: textStart + entry, size: next - entry, type: STT_FUNC, bind: 0, shndx: text.index, dynamic: false });
  }
  return out;
}
