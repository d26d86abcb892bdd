// Reads an RPM package's lead and headers: name, version, release, arch and how big the
// package says it is, so a file that is not an RPM, or a truncated one, is named as such
// before bsdtar (which accepts both silently) unpacks it.
import { open } from 'node:fs/promises';
import { formatNevra } from '../packages/available.js';

export interface RpmHeader {
  readonly name: string;
  readonly epoch: number | undefined;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  /** False for a source package (no SOURCERPM tag). */
  readonly binary: boolean;
  readonly payloadCompressor: string | undefined;
}

export class RpmError extends Error {}

const LEAD_MAGIC = 0xedabeedb;
const HEADER_MAGIC = 0x8eade801;
const LEAD_SIZE = 96;
// Tags.
const SIG_SIZE = 1000; // header + compressed payload, 32-bit
const SIG_LONGSIZE = 270; // the same, 64-bit
const TAG_NAME = 1000;
const TAG_VERSION = 1001;
const TAG_RELEASE = 1002;
const TAG_EPOCH = 1003;
const TAG_ARCH = 1022;
const TAG_SOURCERPM = 1044;
const TAG_PAYLOADCOMPRESSOR = 1125;
// Types.
const INT32 = 4;
const INT64 = 5;
const STRING = 6;

interface Entry {
  readonly tag: number;
  readonly type: number;
  readonly offset: number;
  readonly count: number;
}

interface Header {
  readonly entries: Map<number, Entry>;
  readonly store: Buffer;
  /** Bytes from the header's magic to the end of its store. */
  readonly size: number;
}

function parseHeader(bytes: Buffer, at: number, what: string, fileSize: number): Header {
  if (at + 16 > bytes.length) throw new RpmError(`truncated: the file ends inside the ${what} (${fileSize} bytes)`);
  if (bytes.readUInt32BE(at) !== HEADER_MAGIC) throw new RpmError(`damaged: no ${what} magic at offset ${at}`);
  const count = bytes.readUInt32BE(at + 8);
  const storeSize = bytes.readUInt32BE(at + 12);
  if (count > 0x10000 || storeSize > 0x10000000) throw new RpmError(`damaged: the ${what} claims ${count} entries and ${storeSize} bytes`);
  const size = 16 + count * 16 + storeSize;
  if (at + size > bytes.length) throw new RpmError(`truncated: the ${what} needs ${size} bytes at offset ${at}; the file has ${fileSize}`);
  const entries = new Map<number, Entry>();
  for (let i = 0; i < count; i++) {
    const o = at + 16 + i * 16;
    entries.set(bytes.readUInt32BE(o), { tag: bytes.readUInt32BE(o), type: bytes.readUInt32BE(o + 4), offset: bytes.readUInt32BE(o + 8), count: bytes.readUInt32BE(o + 12) });
  }
  const storeStart = at + 16 + count * 16;
  return { entries, store: bytes.subarray(storeStart, storeStart + storeSize), size };
}

function string(h: Header, tag: number): string | undefined {
  const e = h.entries.get(tag);
  if (!e || e.type !== STRING || e.offset >= h.store.length) return undefined;
  const end = h.store.indexOf(0, e.offset);
  return h.store.toString('utf8', e.offset, end < 0 ? h.store.length : end);
}

function number(h: Header, tag: number): number | undefined {
  const e = h.entries.get(tag);
  if (!e) return undefined;
  if (e.type === INT32 && e.offset + 4 <= h.store.length) return h.store.readUInt32BE(e.offset);
  if (e.type === INT64 && e.offset + 8 <= h.store.length) return Number(h.store.readBigUInt64BE(e.offset));
  return undefined;
}

/** Reads the headers of the RPM at `file`; throws RpmError naming what is wrong (not an RPM, truncated, damaged). */
export async function readRpmHeader(file: string): Promise<RpmHeader> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    // The headers of real packages fit in a few hundred KiB; read up to 4 MiB.
    const bytes = Buffer.alloc(Math.min(size, 4 << 20));
    await handle.read(bytes, 0, bytes.length, 0);
    if (bytes.length < LEAD_SIZE || bytes.readUInt32BE(0) !== LEAD_MAGIC) {
      throw new RpmError(`not an RPM package: ${bytes.length < 4 ? 'the file is too short' : `it starts with ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}, not ed ab ee db`}`);
    }
    const signature = parseHeader(bytes, LEAD_SIZE, 'signature header', size);
    const mainAt = LEAD_SIZE + signature.size + ((8 - (signature.size % 8)) % 8);
    const main = parseHeader(bytes, mainAt, 'main header', size);
    const total = number(signature, SIG_LONGSIZE) ?? number(signature, SIG_SIZE);
    if (total !== undefined && mainAt + total > size) {
      throw new RpmError(`truncated: the package says it is ${mainAt + total} bytes long; the file has ${size}`);
    }
    const name = string(main, TAG_NAME);
    const version = string(main, TAG_VERSION);
    const release = string(main, TAG_RELEASE);
    const arch = string(main, TAG_ARCH);
    if (!name || !version || !release || !arch) throw new RpmError('damaged: the main header lacks name, version, release or arch');
    return {
      name,
      epoch: number(main, TAG_EPOCH),
      version,
      release,
      arch,
      binary: main.entries.has(TAG_SOURCERPM),
      payloadCompressor: string(main, TAG_PAYLOADCOMPRESSOR),
    };
  } finally {
    await handle.close();
  }
}

/** NAME-VERSION-RELEASE.ARCH, as rpm -q prints it. */
export const nevraOf = (h: Pick<RpmHeader, 'name' | 'version' | 'release' | 'arch'>): string => formatNevra(h.name, 0, `${h.version}-${h.release}`, h.arch);
