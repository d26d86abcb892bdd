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
import { DRIVERS } from '../drivers/index.js';
import type { KnownIssue } from '../plan/known-issues.js';
import type { LevelName } from '../levels/table.js';
import { guestAttachedPath, type AttachedRepo } from '../repos/catalog.js';
import { parseNevra, type AvailablePackage } from '../packages/available.js';
import type { CellResult, CheckResult, CommandRecord, StepRecord } from '../results/types.js';
import { VARIANT_AUDIT_PREFIX } from '../scenario/variant-audit.js';
import { levelgateCommand } from '../util/invocation.js';
import { errorMessage } from '../util/errors.js';
import { silentLog, type Log } from '../util/log.js';
import { settleInBatches, type BatchOutcome } from './batches.js';
import type { ComposeGuest, ComposeGuestSource } from './guests.js';
import type { ComposeMetadata } from './metadata.js';
import { everyLevelAndDriver, nameCell, scenarioName } from './name-cell.js';
import { recorded, runChecks, type GuestRunner } from './run-checks.js';
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
  /** Names per dry run (default 200) and per install (default 25). */
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
    const runner: GuestRunner = { guest: guest.guest, commandMs: DEFAULTS.commandTimeoutMs, programMs: DEFAULTS.programTimeoutMs };
    const must = async (argv: readonly string[], input?: string) => {
      const result = await guest!.guest.exec(argv, { timeoutMs: DEFAULTS.commandTimeoutMs, ...(input !== undefined ? { input } : {}) });
      if (result.exitCode !== 0) throw new Error(`${result.command}: exit ${result.exitCode}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    };
    // The compose under the id the snapshot's warm-up loaded it with, so the caches are warm.
    const setup = driver.configureRepos([{ id: options.repo.name, path: guestAttachedPath(options.repo.name) }]);
    for (const c of setup.commands) await must(c.argv, c.input);
    if (setup.refresh) await must(setup.refresh.argv);
    log(`compose ${level}/${driverName}: guest ready in ${Math.round(guest.bootMs / 100) / 10} s; selecting ${options.names.length} names`);

    // Selection, every name, in dry runs.
    const selectStarted = performance.now();
    const selections = await settleInBatches(options.names, options.selectBatch ?? 200, async (batch): Promise<BatchOutcome<{ record: CommandRecord; chosen: AvailablePackage[] }>> => {
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
        const check: CheckResult =
          settled.outcome.kind === 'refused'
            ? { kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual: `refused: ${refusalLine(driver.judge('operation', record))}`, status: 'fail', deviation: 'refused' }
            : selectionCheck(name, level, options.compose.packages, chosen);
        e.selection = { command: aboutName(record, name, settled.names.length), check, batch: settled.names.length, ms: share };
      }
    }

    // Installation and execution: the names to run whose selection settled.
    const toRun = options.runNames.filter((n) => evidence.get(n)?.selection && evidence.get(n)!.selection!.check.deviation !== 'refused');
    log(`compose ${level}/${driverName}: selection judged in ${Math.round((performance.now() - selectStarted) / 100) / 10} s; installing and running ${toRun.length} names`);
    const installs = await settleInBatches(toRun, options.installBatch ?? 25, async (batch): Promise<BatchOutcome<{ record: CommandRecord; ms: number }>> => {
      const op = driver.operation('install', batch)!;
      const t = performance.now();
      const { result, record } = await recorded(runner, op.argv, 'action', runner.commandMs);
      const judged = driver.judge('operation', result);
      if (judged.kind === 'ok') return { kind: 'ok', value: { record, ms: performance.now() - t } };
      if (judged.kind === 'refused') return { kind: 'refused', value: { record, ms: performance.now() - t }, suspects: batch.filter((n) => linesAbout(n, `${result.stdout}\n${result.stderr}`)) };
      throw new Error(`${driverName} install: ${judged.message}`);
    });
    for (const settled of installs) {
      if (settled.outcome.kind === 'error') {
        for (const name of settled.names) evidence.get(name)!.error = `the install of a batch of ${settled.names.length} could not judge ${name}: ${errorMessage(settled.outcome.error)}`;
        continue;
      }
      const { record, ms } = settled.outcome.value;
      const installedNow = settled.outcome.kind === 'ok' ? await installedSet(runner, driver.installedQuery.argv) : [];
      for (const name of settled.names) {
        const e = evidence.get(name)!;
        const t = performance.now();
        if (settled.outcome.kind === 'refused') {
          e.install = { command: aboutName(record, name, 1), checks: [{ kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual: `refused: ${refusalLine(driver.judge('operation', record))}`, status: 'fail', deviation: 'refused' }], runs: [], batch: 1, ms };
          continue;
        }
        const have = installedNow.filter((p) => p.name === name);
        const checks: CheckResult[] = [];
        let runs: CommandRecord[] = [];
        if (have.length !== 1) {
          checks.push({ kind: 'installed', subject: name, check: `installed ${name}`, expected: 'one build installed', actual: have.length ? have.map((p) => `${p.version}-${p.release}.${p.arch}`).join(', ') : 'nothing', status: 'fail', deviation: have.length ? 'wrong-set' : 'missing' });
        } else {
          // What the real install took is judged as the dry run's choice was.
          const ran = await runChecks(runner, name, have[0]!, options.compose.checksOf(name));
          checks.push(selectionCheck(name, level, options.compose.packages, have), ...ran.checks);
          runs = ran.commands;
        }
        e.install = { command: aboutName(record, name, settled.names.length), checks, runs, batch: settled.names.length, ms: ms / settled.names.length + (performance.now() - t) };
      }
    }
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

const refusalLine = (judged: ReturnType<(typeof DRIVERS)['dnf5']['judge']>): string => (judged.kind === 'refused' ? `${judged.reason ?? 'unrecognised'}: ${judged.message}` : judged.kind);

async function installedSet(runner: GuestRunner, argv: readonly string[]): Promise<AvailablePackage[]> {
  const result = await runner.guest.exec(argv, { timeoutMs: runner.commandMs });
  if (result.exitCode !== 0) throw new Error(`${result.command}: exit ${result.exitCode}`);
  return result.stdout.split('\n').flatMap((l) => {
    const m = /^(\S+) (\d+):(\S+)\.([^.\s]+)$/.exec(l.trim());
    const p = m ? parseNevra(`${m[1]}-${m[2] === '0' ? '' : `${m[2]}:`}${m[3]}.${m[4]}`) : undefined;
    return p ? [p] : [];
  });
}

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
