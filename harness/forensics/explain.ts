// What an instruction needs: the bytes at a trapping ip decoded with iced-x86, its CPUID
// features named as the psABI names them, and the lowest level that has them all.
import { decodeOne } from '../audit/isa.js';
import { LEVEL_NAMES, type LevelName } from '../levels/table.js';

export interface Explanation {
  /** Intel syntax. */
  readonly text: string;
  readonly length: number;
  /** iced-x86's feature names. */
  readonly icedFeatures: readonly string[];
  /** The psABI names of those in a level, then the names of those in none (AES, SHA…). */
  readonly features: readonly string[];
  /** The lowest level that has every feature; null when some feature is in no psABI level. */
  readonly needs: LevelName | null;
  /** Why the level does not explain the trap, when it does not (ud2, hint NOPs). */
  readonly note?: string;
}

/** Parses od's or any hex dump ("0f 0b 90" / "0f0b90") into bytes. */
export function hexBytes(text: string): Uint8Array {
  const digits = text.replace(/[^0-9a-fA-F]/g, '');
  const out = new Uint8Array(Math.floor(digits.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** The instruction at the start of `bytes` (at `ip`, 64-bit code), or undefined when they decode to none. */
export function explainBytes(bytes: Uint8Array | string, ip: number | bigint = 0, bits: 32 | 64 = 64): Explanation | undefined {
  const decoded = decodeOne(typeof bytes === 'string' ? hexBytes(bytes) : bytes, ip, bits);
  if (!decoded) return undefined;
  const { info, text, length } = decoded;
  const features = [...info.psabi, ...info.beyond];
  const needs = info.beyond.length ? null : LEVEL_NAMES[Math.max(0, info.level)]!;
  let note: string | undefined;
  if (/^ud[012]\b/.test(text)) note = `${text.split(' ')[0]} is undefined on every CPU: a deliberate trap (abort, __builtin_trap), not a missing feature`;
  else if (info.discounted) note = info.discounted;
  else if (!features.length) note = 'needs nothing beyond the baseline: the trap has another cause (a privileged instruction, a bad jump)';
  return { text, length, icedFeatures: info.iced, features, needs, ...(note ? { note } : {}) };
}

/**
 * The file offset of `ip` from the ELF's first executable PT_LOAD (for kernels that print
 * only `in NAME[VMASTART+SIZE]`): the mapping starts at the segment's page-aligned offset.
 */
export function offsetFromLoadSegment(head: Uint8Array, ip: number, vmaStart: number): number | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const is64 = b[4] === 2;
  const phoff = is64 ? Number(b.readBigUInt64LE(0x20)) : b.readUInt32LE(0x1c);
  const phentsize = b.readUInt16LE(is64 ? 0x36 : 0x2a);
  const phnum = b.readUInt16LE(is64 ? 0x38 : 0x2c);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + (is64 ? 56 : 32) > b.length) return undefined;
    const type = b.readUInt32LE(o);
    const flags = b.readUInt32LE(o + (is64 ? 4 : 24));
    if (type !== 1 || !(flags & 1)) continue;
    const offset = is64 ? Number(b.readBigUInt64LE(o + 8)) : b.readUInt32LE(o + 4);
    return ip - vmaStart + (offset - (offset % 4096));
  }
  return undefined;
}
