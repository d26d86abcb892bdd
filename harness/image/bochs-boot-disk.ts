// Bochs has no -kernel option and no PVH loader: the image carries a small boot disk
// for it instead. Sector 0 is levelgate's boot sector (guest/bochs-boot.S), then the
// kernel flattened from its ELF load segments, then the initramfs. The boot sector
// copies both to their load addresses and enters the kernel's PVH entry; the boot
// info it hands over (hvm_start_info, command line) is written per guest and placed
// in memory by Bochs (bochs-config.ts), so one boot disk serves every guest.
import { open, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { InfrastructureError } from '../util/errors.js';
import { CYLINDER_BYTES } from '../host/data-disk.js';

/** Where the per-guest boot info lives in guest memory (below the kernel, inside one Bochs memory block). */
export const BOOT_INFO_ADDRESS = 0x00f0_0000;
/** The initramfs is copied here (the kernel reserves it from the PVH module list). */
export const INITRD_ADDRESS = 0x0800_0000;
const SECTOR = 512;
/** The boot sector's patch area starts after this tag (bochs-boot.S). */
const TABLE_TAG = Buffer.from('LGBT');

export interface FlatKernel {
  /** Physical address of the first byte. */
  readonly loadAddress: number;
  readonly bytes: Buffer;
  /** The 32-bit PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY). */
  readonly pvhEntry: number;
}

export interface BochsBootLayout {
  readonly pvhEntry: number;
  readonly kernelAddress: number;
  readonly kernelBytes: number;
  readonly initrdAddress: number;
  readonly initrdBytes: number;
  readonly diskBytes: number;
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** Lays an x86-64 ELF kernel's load segments out as one flat image at their physical addresses. */
export function flattenKernel(elf: Buffer, source = 'kernel'): FlatKernel {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) throw new InfrastructureError(`${source}: not a 64-bit ELF file`);
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  const loads: { paddr: number; offset: number; filesz: number; memsz: number }[] = [];
  let pvhEntry: number | undefined;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    const type = elf.readUInt32LE(at);
    const offset = Number(elf.readBigUInt64LE(at + 8));
    const paddr = Number(elf.readBigUInt64LE(at + 24));
    const filesz = Number(elf.readBigUInt64LE(at + 32));
    const memsz = Number(elf.readBigUInt64LE(at + 40));
    if (type === PT_LOAD) loads.push({ paddr, offset, filesz, memsz });
    if (type === PT_NOTE) pvhEntry ??= findPvhEntry(elf.subarray(offset, offset + filesz));
  }
  if (loads.length === 0) throw new InfrastructureError(`${source}: no loadable segments`);
  if (pvhEntry === undefined) throw new InfrastructureError(`${source}: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); the kernel needs CONFIG_PVH`);
  const loadAddress = Math.min(...loads.map((l) => l.paddr));
  const end = Math.max(...loads.map((l) => l.paddr + l.memsz));
  const bytes = Buffer.alloc(end - loadAddress);
  for (const l of loads) elf.copy(bytes, l.paddr - loadAddress, l.offset, l.offset + l.filesz);
  // The tail is .bss and .brk (~10 MB of zeros): RAM starts zeroed and the kernel clears
  // both itself, so the boot sector need not copy them.
  let used = bytes.length;
  while (used > 0 && bytes[used - 1] === 0) used--;
  return { loadAddress, bytes: bytes.subarray(0, used), pvhEntry };
}

function findPvhEntry(notes: Buffer): number | undefined {
  let at = 0;
  while (at + 12 <= notes.length) {
    const namesz = notes.readUInt32LE(at);
    const descsz = notes.readUInt32LE(at + 4);
    const type = notes.readUInt32LE(at + 8);
    const name = notes.toString('latin1', at + 12, at + 12 + namesz).replace(/\0+$/, '');
    const desc = at + 12 + align4(namesz);
    if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY) return descsz >= 8 ? Number(notes.readBigUInt64LE(desc)) : notes.readUInt32LE(desc);
    at = desc + align4(descsz);
  }
  return undefined;
}

const align4 = (n: number) => (n + 3) & ~3;
const sectors = (bytes: number) => Math.ceil(bytes / SECTOR);

/**
 * The boot disk's bytes, in pieces: the patched boot sector, the kernel at LBA 8 and the
 * initramfs after it (4 KiB aligned), padded to whole cylinders.
 */
export function bootDiskLayout(bootSector: Buffer, kernel: FlatKernel, initrdBytes: number): { sector: Buffer; kernelLba: number; initrdLba: number; layout: BochsBootLayout } {
  if (bootSector.length !== SECTOR || bootSector.readUInt16LE(510) !== 0xaa55) throw new InfrastructureError('Bochs boot sector: not a 512-byte sector ending in 55 AA');
  const tag = bootSector.indexOf(TABLE_TAG);
  if (tag < 0) throw new InfrastructureError('Bochs boot sector: no LGBT patch area');
  const kernelLba = 8;
  const initrdLba = kernelLba + Math.ceil(sectors(kernel.bytes.length) / 8) * 8;
  const used = (initrdLba + sectors(initrdBytes)) * SECTOR;
  const diskBytes = Math.ceil(used / CYLINDER_BYTES) * CYLINDER_BYTES;
  const sector = Buffer.from(bootSector);
  let at = tag + TABLE_TAG.length;
  sector.writeUInt32LE(BOOT_INFO_ADDRESS, at);
  at += 4;
  for (const [lba, bytes, address] of [
    [kernelLba, kernel.bytes.length, kernel.loadAddress],
    [initrdLba, initrdBytes, INITRD_ADDRESS],
  ] as const) {
    sector.writeUInt32LE(lba, at);
    sector.writeUInt32LE(sectors(bytes), at + 4);
    sector.writeUInt32LE(address, at + 8);
    at += 12;
  }
  if (kernel.loadAddress + kernel.bytes.length > INITRD_ADDRESS || BOOT_INFO_ADDRESS + 4096 > kernel.loadAddress) {
    throw new InfrastructureError(`Bochs boot layout: kernel at 0x${kernel.loadAddress.toString(16)} (+${kernel.bytes.length} bytes) overlaps the boot info or the initramfs`);
  }
  return {
    sector,
    kernelLba,
    initrdLba,
    layout: { pvhEntry: kernel.pvhEntry, kernelAddress: kernel.loadAddress, kernelBytes: kernel.bytes.length, initrdAddress: INITRD_ADDRESS, initrdBytes, diskBytes },
  };
}

/** Assembles the boot sector source with the host toolchain (gcc's assembler, ld). */
export async function assembleBootSector(source: string, workDir: string): Promise<Buffer> {
  const object = path.join(workDir, 'bochs-boot.o');
  const binary = path.join(workDir, 'bochs-boot.bin');
  for (const [command, args] of [
    ['gcc', ['-m32', '-c', '-x', 'assembler-with-cpp', '-o', object, source]],
    ['ld', ['-m', 'elf_i386', '-Ttext', '0x7c00', '--oformat', 'binary', '-e', '_start', '-o', binary, object]],
  ] as const) {
    const result = await execa(command, args, { reject: false, all: true });
    if (result.failed) throw new InfrastructureError(`cannot assemble the Bochs boot sector: ${result.escapedCommand}`, { details: result.all ?? '' });
  }
  const sector = await readFile(binary);
  await rm(object, { force: true });
  await rm(binary, { force: true });
  return sector;
}

/** Writes the boot disk for `kernelPath` (ELF) and `initrdPath` to `diskPath`. */
export async function writeBochsBootDisk(options: { bootSector: Buffer; kernelPath: string; initrdPath: string; diskPath: string }): Promise<BochsBootLayout> {
  const kernel = flattenKernel(await readFile(options.kernelPath), options.kernelPath);
  const initrd = await readFile(options.initrdPath);
  const { sector, kernelLba, initrdLba, layout } = bootDiskLayout(options.bootSector, kernel, initrd.length);
  await writeFile(options.diskPath, '');
  const disk = await open(options.diskPath, 'r+');
  try {
    await disk.truncate(layout.diskBytes);
    await disk.write(sector, 0, SECTOR, 0);
    await disk.write(kernel.bytes, 0, kernel.bytes.length, kernelLba * SECTOR);
    await disk.write(initrd, 0, initrd.length, initrdLba * SECTOR);
  } finally {
    await disk.close();
  }
  return layout;
}
