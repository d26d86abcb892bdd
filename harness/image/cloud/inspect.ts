// What levelgate finds in a full-distribution image: on the host, before booting (its
// format, digest, partition table and so the firmware it needs), and in the guest, once
// booted (os-release, kernel, glibc, which package managers and agents it has, and
// their versions). The parsers are pure.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { dir } from 'tmp-promise';
import { execa } from 'execa';
import { InfrastructureError, UsageError } from '../../util/errors.js';

export type Firmware = 'bios' | 'uefi';

export interface PartitionTable {
  readonly kind: 'dos' | 'gpt' | 'none';
  /** One line per partition: "1 gpt:ESP" or "1 dos:0x83 bootable". */
  readonly partitions: readonly string[];
  readonly hasEsp: boolean;
  /** A BIOS boot path: a dos disk with boot code, or a GPT BIOS boot partition (GRUB's core.img). */
  readonly biosBootable: boolean;
}

export interface CloudImage {
  /** The file's name without its extension: what reports call it. */
  readonly name: string;
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  /** sha256 of the file (hex, first 16: how caches name it). */
  readonly digest: string;
  readonly sha256: string;
  readonly virtualSize: number;
  readonly table: PartitionTable;
  /** How it boots: SeaBIOS where the disk has a BIOS boot path (faster, no OVMF), else UEFI (OVMF). */
  readonly firmware: Firmware;
}

const GPT_ESP = 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b';
const GPT_BIOS_BOOT = '21686148-6449-6e6f-744e-656564454649';

/** A GPT GUID as written on disk (first three fields little-endian). */
function guidAt(b: Buffer, at: number): string {
  const hex = (from: number, to: number, reverse: boolean) => {
    const bytes = [...b.subarray(at + from, at + to)];
    return (reverse ? bytes.reverse() : bytes).map((x) => x.toString(16).padStart(2, '0')).join('');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

/** Reads the partition table from the disk's first MiB (512-byte sectors). */
export function parsePartitionTable(head: Buffer): PartitionTable {
  if (head.length < 1024 || head.readUInt16LE(510) !== 0xaa55) return { kind: 'none', partitions: [], hasEsp: false, biosBootable: false };
  const mbr = [0, 1, 2, 3].map((i) => ({ index: i + 1, status: head[446 + i * 16]!, type: head[446 + i * 16 + 4]! })).filter((p) => p.type !== 0);
  if (mbr.some((p) => p.type === 0xee) && head.toString('latin1', 512, 520) === 'EFI PART') {
    const entriesLba = Number(head.readBigUInt64LE(512 + 72));
    const count = head.readUInt32LE(512 + 80);
    const size = head.readUInt32LE(512 + 84);
    const partitions: string[] = [];
    let hasEsp = false;
    let biosBoot = false;
    for (let i = 0; i < count; i++) {
      const at = entriesLba * 512 + i * size;
      if (at + size > head.length) break;
      const type = guidAt(head, at);
      if (type === '00000000-0000-0000-0000-000000000000') continue;
      const name = head.toString('utf16le', at + 56, at + 128).replace(/\0.*$/s, '');
      const kind = type === GPT_ESP ? 'ESP' : type === GPT_BIOS_BOOT ? 'BIOS boot' : type;
      hasEsp ||= type === GPT_ESP;
      biosBoot ||= type === GPT_BIOS_BOOT;
      partitions.push(`${i + 1} gpt:${kind}${name ? ` "${name}"` : ''}`);
    }
    return { kind: 'gpt', partitions, hasEsp, biosBootable: biosBoot };
  }
  const bootCode = head.subarray(0, 440).some((b) => b !== 0);
  return {
    kind: 'dos',
    partitions: mbr.map((p) => `${p.index} dos:0x${p.type.toString(16).padStart(2, '0')}${p.status === 0x80 ? ' bootable' : ''}`),
    hasEsp: mbr.some((p) => p.type === 0xef),
    biosBootable: bootCode && mbr.some((p) => p.type !== 0xef),
  };
}

/** SeaBIOS where the disk can boot that way; UEFI where it has only an ESP. */
export function firmwareFor(table: PartitionTable, where: string): Firmware {
  if (table.biosBootable) return 'bios';
  if (table.hasEsp) return 'uefi';
  throw new UsageError(`${where}: no way to boot it: ${table.kind === 'none' ? 'no partition table (a whole-disk image of a distribution has one)' : `neither boot code for a BIOS nor an EFI system partition (${table.partitions.join(', ') || 'no partitions'})`}`, {
    hint: 'levelgate boots distribution images the way a cloud does: through their bootloader, from a partitioned disk',
  });
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Reads what the file says about itself: format, size, partition table, digest. Never writes it. */
export async function inspectImageFile(file: string, where = '--image', name?: string): Promise<CloudImage> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`${where}: ${file} does not exist or is not a file`);
  const full = await realpath(file);
  const described = await execa('qemu-img', ['info', '--output=json', '-U', full], { reject: false, all: true });
  if (described.failed) throw new InfrastructureError(`${where}: qemu-img cannot read ${full}: ${described.shortMessage}`, { details: described.all ?? '' });
  const meta = JSON.parse(described.stdout) as { format: string; 'virtual-size': number; 'backing-filename'?: string };
  if (meta.format !== 'qcow2' && meta.format !== 'raw') throw new UsageError(`${where}: ${full} is ${meta.format}; levelgate boots qcow2 and raw images (convert it: qemu-img convert -O qcow2 ${path.basename(full)} out.qcow2)`);
  if (meta['backing-filename']) throw new UsageError(`${where}: ${full} is an overlay of ${meta['backing-filename']}; give the image itself (or flatten it: qemu-img convert -O qcow2)`);
  const tmp = (await dir({ prefix: 'levelgate-inspect' })).path;
  let head: Buffer;
  try {
    const out = path.join(tmp, 'head.raw');
    const dd = await execa('qemu-img', ['dd', '-U', '-f', meta.format, '-O', 'raw', 'bs=1M', 'count=1', `if=${full}`, `of=${out}`], { reject: false, all: true });
    if (dd.failed) throw new InfrastructureError(`${where}: cannot read the first MiB of ${full}: ${dd.shortMessage}`, { details: dd.all ?? '' });
    head = await readFile(out);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const table = parsePartitionTable(head);
  const sha256 = await sha256Of(full);
  return {
    name: name ?? path.basename(full).replace(/\.(qcow2|raw|img)$/i, ''),
    path: full,
    format: meta.format,
    digest: sha256.slice(0, 16),
    sha256,
    virtualSize: meta['virtual-size'],
    table,
    firmware: firmwareFor(table, where),
  };
}

// ---- in the guest -------------------------------------------------------------------

/** The programs whose presence and version are recorded. */
export const INSPECTED_TOOLS = ['rpm', 'dnf5', 'dnf', 'zypper', 'apt-get', 'pacman', 'qemu-ga', 'cloud-init'] as const;
export type InspectedTool = (typeof INSPECTED_TOOLS)[number];

export interface ImageFacts {
  readonly osRelease: Readonly<Record<string, string>>;
  /** PRETTY_NAME, else NAME VERSION. */
  readonly os: string;
  readonly kernel: string;
  /** glibc's version, as its dynamic loader says. */
  readonly glibc: string;
  /** Each inspected program: its version line, or null when the image lacks it. */
  readonly tools: Readonly<Record<InspectedTool, string | null>>;
  /** Which channel answered: the image's qemu-guest-agent, or levelgate-agent installed by the seed. */
  readonly channel: string;
}

/** One shell script (the image's own /bin/sh) that prints everything inspectImageFacts parses. */
export const INSPECT_SCRIPT = [
  'echo "@os-release"; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release',
  'echo "@kernel"; uname -r',
  'echo "@glibc"; /lib64/ld-linux-x86-64.so.2 --version 2>&1 | head -n 1',
  ...INSPECTED_TOOLS.map((t) => `echo "@${t}"; command -v ${t} >/dev/null 2>&1 && ${t} --version 2>&1 | grep -m1 . || true`),
].join('; ');

const VERSION = /(\d+(?:\.\d+)+)/;

/** Parses INSPECT_SCRIPT's output. */
export function parseImageFacts(stdout: string, channel: string): ImageFacts {
  const sections = new Map<string, string[]>();
  let current = '';
  for (const line of stdout.split('\n')) {
    const m = /^@([\w.-]+)$/.exec(line);
    if (m) {
      current = m[1]!;
      sections.set(current, []);
    } else sections.get(current)?.push(line);
  }
  const first = (name: string) => (sections.get(name) ?? []).find((l) => l.trim())?.trim();
  const osRelease: Record<string, string> = {};
  for (const line of sections.get('os-release') ?? []) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) osRelease[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  const glibcLine = first('glibc') ?? '';
  const tools = Object.fromEntries(INSPECTED_TOOLS.map((t) => [t, first(t) ?? null])) as Record<InspectedTool, string | null>;
  return {
    osRelease,
    os: osRelease.PRETTY_NAME ?? [osRelease.NAME, osRelease.VERSION].filter(Boolean).join(' ') ?? 'unknown',
    kernel: first('kernel') ?? 'unknown',
    glibc: /release version (\d+\.\d+)/.exec(glibcLine)?.[1] ?? VERSION.exec(glibcLine)?.[1] ?? (glibcLine || 'unknown'),
    tools,
    channel,
  };
}

/** A tool's version number from its version line ("RPM version 6.1.0" → 6.1.0). */
export function versionOf(line: string | null): string | undefined {
  return line ? (VERSION.exec(line)?.[1] ?? line) : undefined;
}

/** $releasever when a scenario sets none: the image's VERSION_ID (Fedora 45: "45"), else its codename (Debian sid has no VERSION_ID). */
export function releaseverOf(facts: ImageFacts): string {
  return facts.osRelease.VERSION_ID ?? facts.osRelease.VERSION_CODENAME ?? 'unknown';
}
