// Whether a loose ELF file runs as a program or loads as a library (audit --run bisect):
// read from its header, and the names of shared libraries inside a package.
import { open } from 'node:fs/promises';
import path from 'node:path';
import { ET_DYN, ET_EXEC } from '../elf.js';

export type SubjectKind = 'program' | 'library';

export const LIBRARY_NAME = /\.so(\.\d[\w.]*)?$/;

/**
 * A loose ELF file's role from its header: a shared object without an interpreter whose
 * name says .so is a library (loaded through the loader); an executable, a PIE (it has
 * PT_INTERP) or a static PIE is a program; anything else (relocatable objects, cores) is
 * neither.
 */
export function elfRole(head: Buffer, name: string): SubjectKind | undefined {
  if (head.length < 64 || head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2) return undefined;
  const type = head.readUInt16LE(16);
  if (type === ET_EXEC) return 'program';
  if (type !== ET_DYN) return undefined;
  const phoff = Number(head.readBigUInt64LE(0x20));
  const phentsize = head.readUInt16LE(0x36);
  const phnum = head.readUInt16LE(0x38);
  let interp = false;
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 4 > head.length) break;
    if (head.readUInt32LE(o) === 3) interp = true;
  }
  return interp || !LIBRARY_NAME.test(name) ? 'program' : 'library';
}


/** The role of each file (host paths); files that are neither are left out. */
export async function readRoles(files: readonly string[]): Promise<Map<string, SubjectKind>> {
  const roles = new Map<string, SubjectKind>();
  for (const file of files) {
    const handle = await open(file, 'r');
    try {
      const head = Buffer.alloc(4096);
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      const role = elfRole(head.subarray(0, bytesRead), path.basename(file));
      if (role) roles.set(file, role);
    } finally {
      await handle.close();
    }
  }
  return roles;
}
