// One RPM's audit: its lead and headers read first (a file that is no RPM, or a truncated
// one, is said to be), its payload unpacked into a scratch directory, its ELF files
// audited in the pool and judged under its arch, and the programs it ships listed.
import path from 'node:path';
import { dir } from 'tmp-promise';
import { judgePackage } from './findings.js';
import type { AuditPool } from './pool.js';
import { nevraOf, readRpmHeader, RpmError } from './rpm-header.js';
import type { InputKind, PackageAudit } from './types.js';
import { listElfFiles, listPrograms, unpackRpm, UnpackError } from './unpack.js';

export interface RpmAuditOptions {
  readonly pool: AuditPool;
  /** The input the file came from (the file itself, or its repository). */
  readonly input: string;
  readonly inputKind: InputKind;
  readonly signal?: AbortSignal;
}

export async function auditRpm(file: string, options: RpmAuditOptions): Promise<PackageAudit> {
  const { input, inputKind } = options;
  const shown = inputKind === 'repository' ? path.relative(input, file) : file;
  let header;
  try {
    header = await readRpmHeader(file);
  } catch (error) {
    const reason = error instanceof RpmError ? error.message : `cannot read it: ${(error as Error).message}`;
    return judgePackage({ id: shown, manager: 'rpm', input, file, inputKind, arch: undefined, problem: reason, files: [], otherFiles: 0 });
  }
  const id = nevraOf(header);
  const scratch = await dir({ unsafeCleanup: true, prefix: 'levelgate-audit-rpm-' });
  try {
    await unpackRpm(file, scratch.path, options.signal);
    const listing = await listElfFiles(scratch.path);
    const files = await options.pool.auditAll(listing.elf);
    return judgePackage({ id, manager: 'rpm', input, file, inputKind, arch: header.arch, files, otherFiles: listing.others, programs: await listPrograms(scratch.path) });
  } catch (error) {
    if (!(error instanceof UnpackError)) throw error;
    return judgePackage({ id, manager: 'rpm', input, file, inputKind, arch: header.arch, problem: error.message, files: [], otherFiles: 0 });
  } finally {
    await scratch.cleanup();
  }
}
