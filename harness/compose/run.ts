// `levelgate compose DIR`: reads the compose, checks what was asked of it before any
// guest boots (a directory without metadata, a name not in it), picks the names to
// install and run (all, or a sample stratified by pattern), audits every level ×
// driver and returns the run as every reporter reads it.
import os from 'node:os';
import path from 'node:path';
import type { ImageArtifacts } from '../image/build.js';
import { levelBelow } from '../levels/arch.js';
import type { LevelName } from '../levels/table.js';
import type { KnownIssue } from '../plan/known-issues.js';
import { countFlaky, countVerdicts, expiredIssuesOf, idleIssuesOf } from '../results/summary.js';
import type { CellResult, RunResult } from '../results/types.js';
import { UsageError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import { archPattern, auditCompose } from './audit.js';
import { composeGuests, type ComposeGuestSource } from './guests.js';
import { planGuestMemory, solverMetadataBytes, type GuestMemoryPlan } from './memory.js';
import { readComposeMetadata, type ComposeMetadata } from './metadata.js';
import { auditUpgrade, POPULATE_BATCH } from './upgrade.js';
import { populateWarmUp } from './populate.js';
import { DRIVERS } from '../drivers/index.js';
import type { ComposeDriver } from './selection.js';
import { shardNames, type Shard } from '../plan/shard.js';

export interface ComposeRunOptions {
  /** The compose: a createrepo_c repository. */
  readonly dir: string;
  readonly levels: readonly LevelName[];
  readonly drivers: readonly ComposeDriver[];
  /** Only these names (each must be in the compose). */
  readonly packages?: readonly string[];
  /** Names installed and run: 'all', or K per pattern-stratified sample (default 200). */
  readonly sample?: number | 'all';
  readonly selectBatch?: number;
  readonly installBatch?: number;
  readonly workers?: number;
  /** The guest image, asked for once the compose and the names are known good. */
  readonly image: () => Promise<ImageArtifacts>;
  readonly knownIssues?: readonly KnownIssue[];
  readonly evidenceDir: string;
  /** The pattern of each name, when the compose's maker knows it (a generated compose does). */
  readonly patternOf?: (name: string) => string | undefined;
  /** Guests (default: restored from snapshots with the compose's caches warm). */
  readonly guests?: ComposeGuestSource;
  readonly log?: Log;
  readonly signal?: AbortSignal;
  readonly onCell?: (cell: CellResult) => void;
  /** Instead of the selection audit: the release upgrade from this compose (release N) to DIR (N+1). */
  readonly upgradeFrom?: string;
  /** With upgradeFrom: also move each upgraded disk one level down and distro-sync it. */
  readonly moveDown?: boolean;
  /** The host memory available for guests, MiB (default: os.freemem()); a compose whose guests do not fit is refused. */
  readonly hostAvailableMiB?: number;
  /** One shard of a CI matrix: whole names (shardNames); the sample is drawn from every name first, so the shards together run what one run would. */
  readonly shard?: Shard;
}

/**
 * K names spread over the patterns in proportion to their sizes, every pattern with at
 * least one, each pattern's names taken at even steps: the same sample in every run.
 */
export function stratifiedSample(names: readonly string[], patternOf: (name: string) => string, k: number): string[] {
  if (k >= names.length) return [...names];
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const p = patternOf(n);
    if (!groups.has(p)) groups.set(p, []);
    groups.get(p)!.push(n);
  }
  const picked: string[] = [];
  for (const [, members] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const share = Math.max(1, Math.round((k * members.length) / names.length));
    const step = members.length / Math.min(share, members.length);
    for (let i = 0; i < Math.min(share, members.length); i++) picked.push(members[Math.floor(i * step)]!);
  }
  return picked.sort();
}

/** The names asked for: all audited names, or `packages`, each of which must be in the compose. */
export function chooseNames(compose: ComposeMetadata, packages: readonly string[] | undefined, dir: string): string[] {
  if (!packages?.length) {
    if (compose.auditNames.length === 0) throw new UsageError(`${dir}: no package in the compose is built in more than one arch or ships glibc-hwcaps copies: nothing to audit`);
    return [...compose.auditNames];
  }
  const offered = new Set(compose.packages.map((p) => p.name));
  const unknown = packages.filter((n) => !offered.has(n));
  if (unknown.length) throw new UsageError(`--packages: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not in the compose ${dir}`, { hint: `the compose offers ${offered.size} names; e.g. ${compose.auditNames.slice(0, 3).join(', ')}` });
  return [...new Set(packages)].sort();
}

/**
 * The names a run judges (its shard's, whole) and those it installs and runs: the sample
 * is drawn from every name first, then cut to the shard, so N shards together judge and
 * run exactly what one unsharded run would.
 */
export function namesOfShard(allNames: readonly string[], patternOf: (name: string) => string, sample: number | 'all', shard: Shard | undefined): { names: string[]; runNames: string[] } {
  const names = shard ? shardNames(allNames, shard) : [...allNames];
  const mine = new Set(names);
  const sampled = sample === 'all' ? allNames : stratifiedSample(allNames, patternOf, sample);
  return { names, runNames: sampled.filter((n) => mine.has(n)) };
}

export async function runComposeAudit(options: ComposeRunOptions): Promise<RunResult> {
  const started = Date.now();
  const compose = await readComposeMetadata(path.resolve(options.dir));
  const allNames = chooseNames(compose, options.packages, options.dir);
  const byArch = archPattern(compose);
  const patternOf = (n: string) => options.patternOf?.(n) ?? byArch(n);
  const { names, runNames } = namesOfShard(allNames, patternOf, options.sample ?? 200, options.shard);
  const repo = { name: 'compose', dir: compose.metadata.dir, metadata: compose.metadata };
  const previous = options.upgradeFrom ? await readComposeMetadata(path.resolve(options.upgradeFrom)) : undefined;
  // Every guest loads every repository it is given: sized from all of them, refused before any guest boots.
  const memory = planGuestMemory(await Promise.all([compose, ...(previous ? [previous] : [])].map((c) => solverMetadataBytes(c.metadata.dir))), options.workers ?? 2, options.hostAvailableMiB);
  options.log?.(`compose ${options.dir}: ${memory.statement}`);
  const image = await options.image();
  if (previous) return runResult(started, image.digest, options, await upgradeCells(options, memory, image, previous, compose, names, patternOf), memory);
  const guests = options.guests ?? (await composeGuests({ image, repos: [repo], levels: options.levels, memoryMiB: memory.guestMiB, ...(options.log ? { log: options.log } : {}), ...(options.signal ? { signal: options.signal } : {}) }));
  options.log?.(`compose ${options.dir}: ${compose.packages.length} packages, ${names.length} names audited (${runNames.length} installed and run) at ${options.levels.join(', ')} with ${options.drivers.join(', ')}`);
  const cells = await auditCompose({ ...shared(options, memory, patternOf), guests, compose, ...(options.installBatch ? { installBatch: options.installBatch } : {}), repo, names, runNames, ...(options.selectBatch ? { selectBatch: options.selectBatch } : {}), ...(options.onCell ? { onCell: options.onCell } : {}) });
  return runResult(started, image.digest, options, cells, memory);
}

/**
 * The release upgrade from `previous` (N) to `compose` (N+1), both attached to every
 * guest; each driver's guests restore its release-N snapshot (the names installed from N
 * with that driver at that level: compose/populate.ts), made once per level and cached.
 */
async function upgradeCells(options: ComposeRunOptions, memory: GuestMemoryPlan, image: ImageArtifacts, previous: ComposeMetadata, compose: ComposeMetadata, names: readonly string[], patternOf: (n: string) => string): Promise<CellResult[]> {
  const from = { name: 'release-n', dir: previous.metadata.dir, metadata: previous.metadata };
  const to = { name: 'release-next', dir: compose.metadata.dir, metadata: compose.metadata };
  // A disk moved down boots at the level below each one: those are probed too.
  const levels = [...new Set([...options.levels, ...(options.moveDown ? options.levels.flatMap((l) => levelBelow(l) ?? []) : [])])];
  const sources = new Map<ComposeDriver, Promise<ComposeGuestSource>>();
  const guestsOf = (driver: ComposeDriver): Promise<ComposeGuestSource> => {
    if (options.guests) return Promise.resolve(options.guests);
    if (!sources.has(driver)) {
      const populate = populateWarmUp(DRIVERS[driver], from, names, POPULATE_BATCH);
      sources.set(driver, composeGuests({ image, repos: [from, to], levels, populate, memoryMiB: memory.guestMiB, ...(options.log ? { log: options.log } : {}), ...(options.signal ? { signal: options.signal } : {}) }));
    }
    return sources.get(driver)!;
  };
  return auditUpgrade({ ...shared(options, memory, patternOf), guests: guestsOf, from: { repo: from, compose: previous }, to: { repo: to, compose }, names, ...(options.moveDown ? { moveDown: true } : {}) });
}

/** What both audits take from the run's options. */
function shared(options: ComposeRunOptions, memory: GuestMemoryPlan, patternOf: (n: string) => string) {
  return {
    levels: options.levels,
    drivers: options.drivers,
    knownIssues: options.knownIssues ?? [],
    evidenceDir: options.evidenceDir,
    patternOf,
    workers: memory.workers,
    ...(options.log ? { log: options.log } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

function runResult(started: number, image: string, options: ComposeRunOptions, cells: CellResult[], memory: GuestMemoryPlan): RunResult {
  return {
    tool: 'levelgate',
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    interrupted: options.signal?.aborted ?? false,
    hostname: os.hostname(),
    image,
    fixtures: '',
    workers: memory.workers,
    counts: countVerdicts(cells),
    flaky: countFlaky(cells),
    expiredKnownIssues: expiredIssuesOf(cells),
    idleKnownIssues: idleIssuesOf(cells),
    unavailableLevels: [],
    ...(options.shard ? { shard: `${options.shard.index}/${options.shard.total}` } : {}),
    cells,
  };
}
