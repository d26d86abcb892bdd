// The ISA audit of a set of inputs — RPM files, createrepo_c repositories, guest images,
// installed trees, plain ELF files and directories — into one record per package: its
// ELF files' audits (in worker threads), the findings against its arch, a verdict.
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import { dir } from 'tmp-promise';
import { readRepoMetadata } from '../repos/repodata.js';
import { silentLog, type Log } from '../util/log.js';
import { auditRpm } from './audit-rpm.js';
import { judgePackage } from './findings.js';
import { isInstalledTree, treeOwners } from './owners.js';
import { AuditPool } from './pool.js';
import type { AuditRun, FileAudit, InputKind, PackageAudit } from './types.js';
import { isExtImage, listElfFiles, unpackImage, UnpackError, type TreeFile } from './unpack.js';

export interface AuditOptions {
  /** Worker threads decoding at once (and RPMs unpacking at once). */
  readonly jobs: number;
  /** The arch claimed for ELF files given directly or found in a plain directory (no package to say). */
  readonly looseArch: string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
  /** Called as each package is done. */
  readonly onPackage?: (pkg: PackageAudit) => void;
}

/** Directories of a root file system that hold no installed files. */
const NOT_INSTALLED = new Set(['/proc', '/sys', '/dev', '/run', '/tmp', '/lost+found']);

/** What an input path is: decided by what it holds, not by its name (except a .rpm that is not one). */
export async function classifyInput(input: string): Promise<InputKind> {
  const stats = await stat(input);
  if (stats.isDirectory()) {
    if (await stat(path.join(input, 'repodata', 'repomd.xml')).then(() => true, () => false)) return 'repository';
    return (await isInstalledTree(input)) ? 'tree' : 'directory';
  }
  const handle = await open(input, 'r');
  let lead = 0;
  try {
    const b = Buffer.alloc(4);
    const { bytesRead } = await handle.read(b, 0, 4, 0);
    if (bytesRead === 4) lead = b.readUInt32BE(0);
  } finally {
    await handle.close();
  }
  if (lead === 0xedabeedb || input.endsWith('.rpm')) return 'rpm';
  if (await isExtImage(input)) return 'image';
  return 'file';
}

export async function runAudit(inputs: readonly string[], options: AuditOptions): Promise<AuditRun> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const log = options.log ?? silentLog;
  const signal = options.signal;
  const pool = new AuditPool(options.jobs);
  const unpacks = new PQueue({ concurrency: options.jobs });
  const packages: PackageAudit[] = [];
  const notes: string[] = [];
  const done = (pkg: PackageAudit) => {
    packages.push(pkg);
    options.onPackage?.(pkg);
  };

  const record = judgePackage;
  const auditFiles = (files: readonly TreeFile[]) => pool.auditAll(files);
  const auditOneRpm = async (file: string, input: string, inputKind: InputKind): Promise<void> => {
    done(await auditRpm(file, { pool, input, inputKind, ...(signal ? { signal } : {}) }));
  };

  const auditTree = async (root: string, input: string, inputKind: InputKind): Promise<void> => {
    const owners = await treeOwners(root);
    notes.push(...owners.notes.map((n) => `${input}: ${n}`));
    const listing = await listElfFiles(root, NOT_INSTALLED);
    log(`audit: ${input}: ${listing.elf.length} ELF files, owners from ${owners.byPath.size ? 'the package databases' : 'nowhere (no package database)'}`);
    const results = new Map((await auditFiles(listing.elf)).map((r) => [r.path, r]));
    const groups = new Map<string, { owner: { id: string; arch: string | undefined; manager: PackageAudit['manager'] }; files: FileAudit[] }>();
    for (const f of listing.elf) {
      const owner = owners.byPath.get(f.path);
      const key = owner?.id ?? '(no package)';
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { owner: owner ?? { id: key, arch: undefined, manager: 'none' }, files: [] }));
      group.files.push(results.get(f.path)!);
    }
    for (const { owner, files } of [...groups.values()].sort((a, b) => a.owner.id.localeCompare(b.owner.id))) {
      done(record({ id: owner.id, manager: owner.manager, input, inputKind, arch: owner.arch, files, otherFiles: 0 }));
    }
  };

  const auditLoose = async (files: readonly TreeFile[], input: string, inputKind: InputKind): Promise<void> => {
    for (const result of await auditFiles(files)) {
      done(record({ id: result.path, manager: 'none', input, inputKind, arch: options.looseArch, files: [result], otherFiles: 0 }));
    }
  };

  const work: Promise<void>[] = [];
  try {
    for (const input of inputs) {
      signal?.throwIfAborted();
      const kind = await classifyInput(input);
      switch (kind) {
        case 'rpm':
          work.push(unpacks.add(() => auditOneRpm(input, input, kind)));
          break;
        case 'repository': {
          const repo = await readRepoMetadata(input);
          log(`audit: ${input}: repository with ${repo.packages.length} packages`);
          for (const p of repo.packages) work.push(unpacks.add(() => auditOneRpm(path.join(input, p.location), input, kind)));
          break;
        }
        case 'image': {
          const scratch = await dir({ unsafeCleanup: true, prefix: 'levelgate-audit-image-' });
          log(`audit: ${input}: unpacking the image read-only (debugfs rdump)`);
          work.push(
            (async () => {
              try {
                await unpackImage(input, scratch.path, signal);
                await auditTree(scratch.path, input, kind);
              } catch (error) {
                if (!(error instanceof UnpackError)) throw error;
                done(record({ id: input, manager: 'none', input, inputKind: kind, arch: undefined, problem: `${input}: ${error.message}`, files: [], otherFiles: 0 }));
              } finally {
                await scratch.cleanup();
              }
            })(),
          );
          break;
        }
        case 'tree':
          work.push(auditTree(path.resolve(input), input, kind));
          break;
        case 'directory': {
          const listing = await listElfFiles(path.resolve(input));
          work.push(auditLoose(listing.elf.map((f) => ({ ...f, path: path.join(input, f.path) })), input, kind));
          break;
        }
        case 'file':
          work.push(auditLoose([{ file: input, path: input, size: (await stat(input)).size }], input, kind));
          break;
      }
    }
    await Promise.all(work);
  } finally {
    await Promise.allSettled(work);
    await pool.close();
  }
  const durationMs = performance.now() - started;
  return {
    tool: 'levelgate audit',
    startedAt,
    durationMs: Math.round(durationMs),
    inputs,
    jobs: options.jobs,
    packages: packages.sort((a, b) => a.input.localeCompare(b.input) || a.id.localeCompare(b.id)),
    notes,
    totals: auditTotals(packages, durationMs),
    interrupted: signal?.aborted ?? false,
  };
}

/** The counts of a run's packages by verdict, and the code decoded per second of `durationMs` (the static audit's time). */
export function auditTotals(packages: readonly PackageAudit[], durationMs: number): AuditRun['totals'] {
  const files = packages.flatMap((p) => p.files);
  const codeBytes = files.reduce((n, f) => n + f.codeBytes, 0);
  return {
    packages: packages.length,
    findings: packages.filter((p) => p.verdict === 'finding').length,
    suspects: packages.filter((p) => p.verdict === 'suspect').length,
    errors: packages.filter((p) => p.verdict === 'error').length,
    elfFiles: files.filter((f) => f.status === 'audited').length,
    codeBytes,
    mbPerSecond: Math.round((codeBytes / 1e6 / (durationMs / 1000)) * 10) / 10,
  };
}
