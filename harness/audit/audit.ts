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
import { imageUnpackParent, isExtImage, listElfFiles, unpackImage, UnpackError, type TreeFile } from './unpack.js';

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

/** What the auditing of each input shares: the decoding pool, the unpack queue, and where packages go. */
interface AuditContext {
  readonly options: AuditOptions;
  readonly pool: AuditPool;
  readonly unpacks: PQueue;
  readonly log: (line: string) => void;
  readonly notes: string[];
  readonly done: (pkg: PackageAudit) => void;
}

export async function runAudit(inputs: readonly string[], options: AuditOptions): Promise<AuditRun> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const signal = options.signal;
  const pool = new AuditPool(options.jobs);
  const packages: PackageAudit[] = [];
  const ctx: AuditContext = {
    options,
    pool,
    unpacks: new PQueue({ concurrency: options.jobs }),
    log: options.log ?? silentLog,
    notes: [],
    done: (pkg) => {
      packages.push(pkg);
      options.onPackage?.(pkg);
    },
  };
  const work: Promise<void>[] = [];
  try {
    for (const input of inputs) {
      signal?.throwIfAborted();
      work.push(...(await startInput(ctx, input)));
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
    notes: ctx.notes,
    totals: auditTotals(packages, durationMs),
    interrupted: signal?.aborted ?? false,
  };
}

/** Starts the auditing of one input, by its kind; the work it started. */
async function startInput(ctx: AuditContext, input: string): Promise<Promise<void>[]> {
  const kind = await classifyInput(input);
  switch (kind) {
    case 'rpm':
      return [ctx.unpacks.add(() => auditOneRpm(ctx, input, input, kind))];
    case 'repository': {
      const repo = await readRepoMetadata(input);
      ctx.log(`audit: ${input}: repository with ${repo.packages.length} packages`);
      return repo.packages.map((p) => ctx.unpacks.add(() => auditOneRpm(ctx, path.join(input, p.location), input, kind)));
    }
    case 'image':
      return [auditImage(ctx, input)];
    case 'tree':
      return [auditTree(ctx, path.resolve(input), input, kind)];
    case 'directory': {
      const listing = await listElfFiles(path.resolve(input));
      return [auditLoose(ctx, listing.elf.map((f) => ({ ...f, path: path.join(input, f.path) })), input, kind)];
    }
    case 'file':
      return [auditLoose(ctx, [{ file: input, path: input, size: (await stat(input)).size }], input, kind)];
  }
}

async function auditOneRpm(ctx: AuditContext, file: string, input: string, inputKind: InputKind): Promise<void> {
  const signal = ctx.options.signal;
  ctx.done(await auditRpm(file, { pool: ctx.pool, input, inputKind, ...(signal ? { signal } : {}) }));
}

/** A guest image: copied read-only into a scratch directory (in RAM when it fits; removed after), then audited as an installed tree. */
async function auditImage(ctx: AuditContext, input: string): Promise<void> {
  const parent = await imageUnpackParent(input);
  const scratch = await dir({ unsafeCleanup: true, prefix: 'levelgate-audit-image-', ...(parent ? { tmpdir: parent } : {}) });
  ctx.log(`audit: ${input}: unpacking the image read-only (debugfs rdump)`);
  try {
    await unpackImage(input, scratch.path, ctx.options.signal);
    await auditTree(ctx, scratch.path, input, 'image');
  } catch (error) {
    if (!(error instanceof UnpackError)) throw error;
    ctx.done(judgePackage({ id: input, manager: 'none', input, inputKind: 'image', arch: undefined, problem: `${input}: ${error.message}`, files: [], otherFiles: 0 }));
  } finally {
    await scratch.cleanup();
  }
}

/** An installed tree: every ELF file, grouped by the package its databases say owns it. */
async function auditTree(ctx: AuditContext, root: string, input: string, inputKind: InputKind): Promise<void> {
  // The package databases are read while the workers decode: owners are needed only to group the results.
  const reading = treeOwners(root);
  reading.catch(() => {}); // awaited below; not an unhandled rejection while the listing runs
  const listing = await listElfFiles(root, NOT_INSTALLED);
  const auditing = ctx.pool.auditAll(listing.elf);
  const owners = await reading;
  ctx.notes.push(...owners.notes.map((n) => `${input}: ${n}`));
  ctx.log(`audit: ${input}: ${listing.elf.length} ELF files, owners from ${owners.byPath.size ? 'the package databases' : 'nowhere (no package database)'}`);
  const results = new Map((await auditing).map((r) => [r.path, r]));
  const groups = new Map<string, { owner: { id: string; arch: string | undefined; manager: PackageAudit['manager'] }; files: FileAudit[] }>();
  for (const f of listing.elf) {
    const owner = owners.byPath.get(f.path);
    const key = owner?.id ?? '(no package)';
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { owner: owner ?? { id: key, arch: undefined, manager: 'none' }, files: [] }));
    group.files.push(results.get(f.path)!);
  }
  for (const { owner, files } of [...groups.values()].sort((a, b) => a.owner.id.localeCompare(b.owner.id))) {
    ctx.done(judgePackage({ id: owner.id, manager: owner.manager, input, inputKind, arch: owner.arch, files, otherFiles: 0 }));
  }
}

/** Files in no package: each judged alone, at the claimed arch. */
async function auditLoose(ctx: AuditContext, files: readonly TreeFile[], input: string, inputKind: InputKind): Promise<void> {
  for (const result of await ctx.pool.auditAll(files)) {
    ctx.done(judgePackage({ id: result.path, manager: 'none', input, inputKind, arch: ctx.options.looseArch, files: [result], otherFiles: 0 }));
  }
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
