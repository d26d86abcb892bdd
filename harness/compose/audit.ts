// The compose audit: per level and driver, one guest (restored from the level's snapshot
// with the compose's caches warm) judges every audited name. Selection: the package
// manager dry-runs installs of the names in batches and each name's chosen NEVRA, read
// from the tool's own answer, is compared with the best variant the metadata offers.
// Installation and execution: every name, or a stratified sample, installed in batches
// and its programs run and libraries loaded. A batch the tool refuses is split until
// each culprit stands alone. Each name ends as an ordinary cell result
// (variant-audit.NAME[level,driver]) with its own evidence, judged with the known issues
// as any cell is: batching changes the cost, never the verdict.
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { DEFAULTS } from '../model/defaults.js';
import type { Accel } from '../model/accel.js';
import { DRIVERS } from '../drivers/index.js';
import type { KnownIssue } from '../plan/known-issues.js';
import type { LevelName } from '../levels/table.js';
import type { AttachedRepo } from '../repos/catalog.js';
import type { AvailablePackage } from '../packages/available.js';
import type { PackageDriver } from '../drivers/driver.js';
import type { CellResult, CheckResult, CommandRecord, StepRecord } from '../results/types.js';
import { VARIANT_AUDIT_PREFIX } from '../scenario/variant-audit.js';
import { levelgateCommand } from '../util/invocation.js';
import { errorMessage } from '../util/errors.js';
import { silentLog, type Log } from '../util/log.js';
import { settleInBatches, type BatchOutcome } from './batches.js';
import { enableRepo, installBatch, installedPackages } from './guest-steps.js';
import { composeRunner, type ComposeGuest, type ComposeGuestSource } from './guests.js';
import type { ComposeMetadata } from './metadata.js';
import { everyLevelAndDriver, nameCell, scenarioName } from './name-cell.js';
import { recorded, runChecksOfBatch, type GuestRunner } from './run-checks.js';
import { aboutName, dnf5Aborted, dryRunInstall, linesAbout, parseDryRun, selectionCheck, type ComposeDriver } from './selection.js';

export interface ComposeAuditOptions {
  readonly compose: ComposeMetadata;
  readonly repo: AttachedRepo;
  readonly names: readonly string[];
  /** The names installed and run (the rest are judged on selection only). */
  readonly runNames: readonly string[];
  readonly levels: readonly LevelName[];
  readonly drivers: readonly ComposeDriver[];
  readonly guests: ComposeGuestSource;
  readonly knownIssues: readonly KnownIssue[];
  readonly evidenceDir: string;
  /** Names per dry run and per install (defaults: DEFAULTS.composeSelectBatch per driver and engine, composeInstallBatch). */
  readonly selectBatch?: number;
  readonly installBatch?: number;
  /** Guests at once (default 2). */
  readonly workers?: number;
  /** The pattern a name belongs to, for reports (default: the arches it is built in). */
  readonly patternOf?: (name: string) => string;
  readonly today?: string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
  readonly onCell?: (cell: CellResult) => void;
}

/** A name's evidence as the audit gathers it. */
interface NameEvidence {
  selection?: { command: CommandRecord; check: CheckResult; batch: number; ms: number };
  install?: { command: CommandRecord; checks: CheckResult[]; runs: CommandRecord[]; batch: number; ms: number };
  error?: string;
}

/** The arches a name is built in ("x86_64+x86_64_v3"), or glibc-hwcaps: the default pattern. */
export function archPattern(compose: ComposeMetadata): (name: string) => string {
  return (name) => (compose.hwcapsNames.has(name) ? 'glibc-hwcaps' : [...new Set(compose.packages.filter((p) => p.name === name).map((p) => p.arch))].sort().join('+'));
}

export async function auditCompose(options: ComposeAuditOptions): Promise<CellResult[]> {
  const log = options.log ?? silentLog;
  return everyLevelAndDriver(options.levels, options.drivers, options.workers ?? 2, options.signal, (level, driver) => auditOne(options, level, driver, log));
}

/** What one level × driver's phases share: its guest's runner and the evidence of every name. */
interface LevelRun {
  readonly options: ComposeAuditOptions;
  readonly level: LevelName;
  readonly driverName: ComposeDriver;
  readonly driver: PackageDriver;
  readonly runner: GuestRunner;
  /** The guest's engine: the dry-run batch is sized for it (a call costs far more under Bochs). */
  readonly accel: Accel;
  readonly evidence: Map<string, NameEvidence>;
  readonly log: Log;
}

/** One level × driver: one guest, every name. */
async function auditOne(options: ComposeAuditOptions, level: LevelName, driverName: ComposeDriver, log: Log): Promise<CellResult[]> {
  const started = performance.now();
  const driver = DRIVERS[driverName];
  const evidenceDir = path.join(options.evidenceDir, `compose-${level}-${driverName}`);
  await mkdir(evidenceDir, { recursive: true });
  const evidence = new Map<string, NameEvidence>(options.names.map((n) => [n, {}]));
  let guest: ComposeGuest | undefined;
  let setupError: string | undefined;
  try {
    guest = await options.guests.open(level, evidenceDir);
    const run: LevelRun = { options, level, driverName, driver, runner: composeRunner(guest), accel: guest.accel, evidence, log };
    // The compose under the id the snapshot's warm-up loaded it with, so the caches are warm.
    const enabling = performance.now();
    await enableRepo(run.runner, driver, options.repo);
    log(`compose ${level}/${driverName}: guest ready in ${Math.round(guest.bootMs / 100) / 10} s, repository enabled in ${Math.round((performance.now() - enabling) / 100) / 10} s; selecting ${options.names.length} names`);
    await judgeSelection(run);
    await installAndRun(run);
  } catch (error) {
    setupError = errorMessage(error);
    log(`compose ${level}/${driverName}: ${setupError}`);
  } finally {
    await guest?.dispose().catch((error: unknown) => log(`compose ${level}/${driverName}: teardown: ${errorMessage(error)}`));
  }
  const total = performance.now() - started;
  const cells = options.names.map((name) => cellOf(options, name, level, driverName, evidence.get(name)!, guest, setupError, total / options.names.length));
  for (const cell of cells) options.onCell?.(cell);
  log(`compose ${level}/${driverName}: ${cells.length} names in ${Math.round(total / 100) / 10} s`);
  return cells;
}

/** Selection, every name, in dry runs: each name's chosen build from the tool's own answer against the metadata's best. */
async function judgeSelection({ options, level, driverName, driver, runner, accel, evidence, log }: LevelRun): Promise<void> {
  const selectStarted = performance.now();
  let dryRuns = 0;
  const selections = await settleInBatches(options.names, options.selectBatch ?? DEFAULTS.composeSelectBatch[driverName][accel], async (batch): Promise<BatchOutcome<{ record: CommandRecord; chosen: AvailablePackage[] }>> => {
    dryRuns++;
    const { result, record } = await recorded(runner, dryRunInstall(driver, batch).argv, 'action', runner.commandMs);
    const judged = driver.judge('operation', result);
    const aborted = driverName === 'dnf5' && result.exitCode === 1 && dnf5Aborted(result.stdout, result.stderr);
    if (judged.kind === 'ok' || aborted) return { kind: 'ok', value: { record, chosen: parseDryRun(driverName, result.stdout) } };
    if (judged.kind === 'refused') return { kind: 'refused', value: { record, chosen: [] }, suspects: batch.filter((n) => linesAbout(n, `${result.stdout}\n${result.stderr}`)) };
    throw new Error(`${driverName} dry run: ${judged.message}`);
  });
  for (const settled of selections) {
    const share = (performance.now() - selectStarted) / options.names.length;
    for (const name of settled.names) {
      const e = evidence.get(name)!;
      if (settled.outcome.kind === 'error') {
        e.error = `the dry run of a batch of ${settled.names.length} could not judge ${name}: ${errorMessage(settled.outcome.error)}`;
        continue;
      }
      const { record, chosen } = settled.outcome.value;
      const check: CheckResult = settled.outcome.kind === 'refused' ? refusedCheck(driver, record) : selectionCheck(name, level, options.compose.packages, chosen);
      e.selection = { command: aboutName(record, name, settled.names.length), check, batch: settled.names.length, ms: share };
    }
  }
  log(`compose ${level}/${driverName}: selection judged in ${Math.round((performance.now() - selectStarted) / 100) / 10} s (${dryRuns} dry runs)`);
}

/** Installation and execution: the names to run whose selection settled, installed in batches, each one's programs run. */
async function installAndRun(run: LevelRun): Promise<void> {
  const { options, level, driverName, driver, runner, evidence, log } = run;
  const toRun = options.runNames.filter((n) => evidence.get(n)?.selection && evidence.get(n)!.selection!.check.deviation !== 'refused');
  log(`compose ${level}/${driverName}: installing and running ${toRun.length} names`);
  const started = performance.now();
  const installs = await settleInBatches(toRun, options.installBatch ?? DEFAULTS.composeInstallBatch, (batch) => installBatch(runner, driver, batch));
  const installedAt = performance.now();
  // Every transaction has run: the installed set is read once, the same for every batch.
  const installedNow = installs.some((s) => s.outcome.kind === 'ok') ? await installedPackages(runner, driver) : [];
  const readAt = performance.now();
  let batches = 0;
  for (const settled of installs) {
    if (settled.outcome.kind === 'error') {
      for (const name of settled.names) evidence.get(name)!.error = `the install of a batch of ${settled.names.length} could not judge ${name}: ${errorMessage(settled.outcome.error)}`;
      continue;
    }
    const { record, ms } = settled.outcome.value;
    if (settled.outcome.kind === 'refused') {
      for (const name of settled.names) evidence.get(name)!.install = { command: aboutName(record, name, 1), checks: [refusedCheck(driver, record)], runs: [], batch: 1, ms };
      continue;
    }
    // Every name of the transaction that installed exactly one build: its programs and libraries in one guest command.
    const t = performance.now();
    const have = new Map(settled.names.map((name) => [name, installedNow.filter((p) => p.name === name)]));
    const ran = await runChecksOfBatch(runner, settled.names.filter((name) => have.get(name)!.length === 1).map((name) => ({ name, installed: have.get(name)![0]!, ships: options.compose.checksOf(name) })));
    batches++;
    const runMs = (performance.now() - t) / settled.names.length;
    for (const name of settled.names) {
      const { checks, runs } = judgeInstalled(run, name, have.get(name)!, ran.get(name));
      evidence.get(name)!.install = { command: aboutName(record, name, settled.names.length), checks, runs, batch: settled.names.length, ms: ms / settled.names.length + runMs };
    }
  }
  const s = (a: number, b: number): number => Math.round((b - a) / 100) / 10;
  log(`compose ${level}/${driverName}: installed and ran ${toRun.length} names in ${s(started, performance.now())} s: ${installs.length} transactions ${s(started, installedAt)} s, installed set read ${s(installedAt, readAt)} s, ${batches} batches of runs ${s(readAt, performance.now())} s`);
}

/** One installed name: exactly one build, the one its selection should be, and what it ships runs (`ran`: its programs' and libraries' checks). */
function judgeInstalled({ options, level }: LevelRun, name: string, have: readonly AvailablePackage[], ran: { checks: CheckResult[]; commands: CommandRecord[] } | undefined): { checks: CheckResult[]; runs: CommandRecord[] } {
  if (have.length !== 1 || !ran) {
    return { checks: [{ kind: 'installed', subject: name, check: `installed ${name}`, expected: 'one build installed', actual: have.length ? have.map((p) => `${p.version}-${p.release}.${p.arch}`).join(', ') : 'nothing', status: 'fail', deviation: have.length ? 'wrong-set' : 'missing' }], runs: [] };
  }
  // What the real install took is judged as the dry run's choice was.
  return { checks: [selectionCheck(name, level, options.compose.packages, have), ...ran.checks], runs: ran.commands };
}

const refusedCheck = (driver: PackageDriver, record: CommandRecord): CheckResult => ({ kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual: `refused: ${refusalLine(driver.judge('operation', record))}`, status: 'fail', deviation: 'refused' });

const refusalLine = (judged: ReturnType<(typeof DRIVERS)['dnf5']['judge']>): string => (judged.kind === 'refused' ? `${judged.reason ?? 'unrecognised'}: ${judged.message}` : judged.kind);

/** One name × level × driver as an ordinary cell result. */
function cellOf(options: ComposeAuditOptions, name: string, level: LevelName, driver: ComposeDriver, e: NameEvidence, guest: ComposeGuest | undefined, setupError: string | undefined, shareMs: number): CellResult {
  const steps: StepRecord[] = [];
  if (e.selection) steps.push({ index: 1, title: `select ${name} (dry run, ${e.selection.batch} names at once)`, action: 'install', level, commands: [e.selection.command], installedBefore: [], installedAfter: [], checks: [e.selection.check] });
  if (e.install) steps.push({ index: 2, title: `install ${name} (${e.install.batch} names at once) and run what it ships`, action: 'install', level, commands: [e.install.command, ...e.install.runs], installedBefore: [], installedAfter: [], checks: e.install.checks });
  const error = setupError ? `the ${level}/${driver} guest failed: ${setupError}` : e.error;
  return nameCell(
    {
      scenario: `${VARIANT_AUDIT_PREFIX}${scenarioName(name)}`,
      packageName: name,
      title: `Variant audit of ${name}: the best variant installs and every program it ships runs`,
      level,
      driver,
      steps,
      ...(error ? { error } : {}),
      guest,
      timings: {
        totalMs: Math.round(shareMs),
        bootMs: Math.round((guest?.bootMs ?? 0) / options.names.length),
        packageManagerMs: Math.round((e.selection?.ms ?? 0) + (e.install?.ms ?? 0)),
        programMs: Math.round((e.install?.runs ?? []).reduce((n, r) => n + r.durationMs, 0)),
      },
      repro: `${levelgateCommand()} compose ${options.repo.dir} --level ${level} --driver ${driver} --packages ${name} --sample all`,
      pattern: (options.patternOf ?? archPattern(options.compose))(name),
    },
    options.knownIssues,
    options.today ?? new Date().toISOString().slice(0, 10),
  );
}
