// Function ranges from .eh_frame's FDEs, which stripped binaries keep: where code
// really is, so data inside executable sections (perlasm tables) is not decoded as code.
import type { Section } from './elf.js';

export interface Range {
  readonly start: number;
  readonly end: number;
}

export interface EhFrameRanges {
  readonly ranges: readonly Range[];
  /** Set when the section is damaged: the FDEs before the damage are kept. */
  readonly problem?: string;
}

// DW_EH_PE encodings: the low nibble is the value format, 0x70 the application.
const DW_EH_PE_omit = 0xff;
const DW_EH_PE_pcrel = 0x10;

/** Every FDE's [start, end), sorted by start (not merged: each is one function). */
export function ehFrameRanges(bytes: Buffer, section: Pick<Section, 'addr'>, bits: 32 | 64): EhFrameRanges {
  const out: Range[] = [];
  const fdeEncodingOfCie = new Map<number, number>();
  let p = 0;
  const need = (n: number): void => {
    if (p + n > bytes.length) throw new RangeError(`.eh_frame ends inside a record at offset ${p}`);
  };
  const uleb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      need(1);
      const b = bytes[p++]!;
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(b & 0x80)) return result;
    }
  };
  const sleb = (): number => {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      need(1);
      b = bytes[p++]!;
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return b & 0x40 ? result - 2 ** shift : result;
  };
  const encoded = (encoding: number, applyPcrel: boolean): number => {
    const at = p;
    let v: number;
    switch (encoding & 0x0f) {
      case 0x00:
        need(bits === 64 ? 8 : 4);
        v = bits === 64 ? Number(bytes.readBigUInt64LE(p)) : bytes.readUInt32LE(p);
        p += bits === 64 ? 8 : 4;
        break;
      case 0x01:
        v = uleb();
        break;
      case 0x02:
        need(2);
        v = bytes.readUInt16LE(p);
        p += 2;
        break;
      case 0x03:
        need(4);
        v = bytes.readUInt32LE(p);
        p += 4;
        break;
      case 0x04:
        need(8);
        v = Number(bytes.readBigUInt64LE(p));
        p += 8;
        break;
      case 0x09:
        v = sleb();
        break;
      case 0x0a:
        need(2);
        v = bytes.readInt16LE(p);
        p += 2;
        break;
      case 0x0b:
        need(4);
        v = bytes.readInt32LE(p);
        p += 4;
        break;
      case 0x0c:
        need(8);
        v = Number(bytes.readBigInt64LE(p));
        p += 8;
        break;
      default:
        throw new RangeError(`unknown pointer encoding 0x${encoding.toString(16)} at .eh_frame offset ${at}`);
    }
    if (applyPcrel && (encoding & 0x70) === DW_EH_PE_pcrel) v += section.addr + at;
    return v;
  };

  try {
    while (p + 4 <= bytes.length) {
      const start = p;
      let length = bytes.readUInt32LE(p);
      p += 4;
      if (length === 0) break; // terminator
      if (length === 0xffffffff) {
        need(8);
        length = Number(bytes.readBigUInt64LE(p));
        p += 8;
      }
      const body = p;
      const next = body + length;
      if (next > bytes.length) throw new RangeError(`.eh_frame record at offset ${start} runs past the section's end`);
      need(4);
      const id = bytes.readUInt32LE(p);
      p += 4;
      if (id === 0) {
        // CIE: remember how its FDEs encode their start address.
        need(1);
        const version = bytes[p++]!;
        const augEnd = bytes.indexOf(0, p);
        if (augEnd < 0 || augEnd >= next) throw new RangeError(`CIE at offset ${start} has no augmentation string`);
        const augmentation = bytes.toString('latin1', p, augEnd);
        p = augEnd + 1;
        if (augmentation.includes('eh')) p += bits === 64 ? 8 : 4;
        uleb(); // code alignment
        sleb(); // data alignment
        if (version === 1) p++;
        else uleb(); // return address register
        let fdeEncoding = 0x00;
        if (augmentation.startsWith('z')) {
          uleb(); // augmentation data length
          for (const c of augmentation.slice(1)) {
            if (c === 'R') {
              need(1);
              fdeEncoding = bytes[p++]!;
            } else if (c === 'L') p++;
            else if (c === 'P') {
              need(1);
              const personalityEncoding = bytes[p++]!;
              if (personalityEncoding !== DW_EH_PE_omit) encoded(personalityEncoding, false);
            } else if (c !== 'S' && c !== 'B' && c !== 'G') break;
          }
        }
        fdeEncodingOfCie.set(start, fdeEncoding);
      } else {
        // FDE: its CIE is `id` bytes back from the id field.
        const encoding = fdeEncodingOfCie.get(body - id) ?? 0x1b;
        const pcBegin = encoded(encoding, true);
        const pcRange = encoded(encoding & 0x0f, false);
        if (pcRange > 0 && pcBegin > 0) out.push({ start: pcBegin, end: pcBegin + pcRange });
      }
      p = next;
    }
  } catch (error) {
    out.sort((a, b) => a.start - b.start);
    return { ranges: out, problem: (error as Error).message };
  }
  out.sort((a, b) => a.start - b.start);
  return { ranges: out };
}
