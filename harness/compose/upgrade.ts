// The release upgrade at compose scale: per level × driver, one guest restored from a
// release-N snapshot (compose/populate.ts: every audited name installed from N with that
// driver at that level, in batches, made once and cached under the compose's contents),
// upgraded to N+1 by the driver's release upgrade (dnf5 distro-sync, zypper dist-upgrade
// with only N+1 enabled), then every package installed from N judged: the best variant of
// N+1 installed (an older build left is stale); the audited names' programs run and
// libraries loaded. Optionally the same disk is moved one level down and distro-synced,
// and judged again at that level. Each name is one cell, compose-upgrade.NAME[level,driver].
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { DEFAULTS } from '../model/defaults.js';
import { DRIVERS } from '../drivers/index.js';
import { levelBelow } from '../levels/arch.js';
import type { LevelName } from '../levels/table.js';
import type { KnownIssue } from '../plan/known-issues.js';
import type { AttachedRepo } from '../repos/catalog.js';
import type { PackageDriver } from '../drivers/driver.js';
import type { CellResult, CheckResult, CommandRecord, StepRecord } from '../results/types.js';
import { errorMessage } from '../util/errors.js';
import { levelgateCommand } from '../util/invocation.js';
import { silentLog, type Log } from '../util/log.js';
import { enableRepo, installedPackages } from './guest-steps.js';
import { parseNevra } from '../packages/available.js';
import { parseFailed, POPULATE_DIR } from './populate.js';
import { composeRunner, type ComposeGuest, type ComposeGuestSource } from './guests.js';
import type { ComposeMetadata } from './metadata.js';
import { everyLevelAndDriver, nameCell, scenarioName } from './name-cell.js';
import { recorded, runChecksOfBatch } from './run-checks.js';
import { aboutName, linesAbout, selectionCheck, type ComposeDriver } from './selection.js';

export const UPGRADE_PREFIX = 'compose-upgrade.';
/** Names a batch when the release-N snapshot is populated. */
export const POPULATE_BATCH = 20;

export interface UpgradeAuditOptions {
  readonly from: { readonly repo: AttachedRepo; readonly compose: ComposeMetadata };
  readonly to: { readonly repo: AttachedRepo; readonly compose: ComposeMetadata };
  /** The names installed from N (the populated snapshot's), then judged after the upgrade with every package they pulled in. */
  readonly names: readonly string[];
  readonly levels: readonly LevelName[];
  readonly drivers: readonly ComposeDriver[];
  /** Each driver's guests: restored from its release-N snapshot. */
  readonly guests: (driver: ComposeDriver) => Promise<ComposeGuestSource>;
  readonly knownIssues: readonly KnownIssue[];
  readonly evidenceDir: string;
  /** Also move the upgraded disk one level down and distro-sync it. */
  readonly moveDown?: boolean;
  readonly workers?: number;
  readonly patternOf: (name: string) => string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
}

export async function auditUpgrade(options: UpgradeAuditOptions): Promise<CellResult[]> {
  return everyLevelAndDriver(options.levels, options.drivers, options.workers ?? 2, options.signal, (level, driver) => upgradeOne(options, level, driver, options.log ?? silentLog));
}

/** What one level × driver's upgrade phases share: its guest, its runner, every name's steps and errors. */
interface UpgradeRun {
  readonly options: UpgradeAuditOptions;
  readonly level: LevelName;
  readonly driverName: ComposeDriver;
  readonly driver: PackageDriver;
  readonly guest: ComposeGuest;
  readonly steps: Map<string, StepRecord[]>;
  readonly errors: Map<string, string>;
  readonly log: Log;
}


async function upgradeOne(options: UpgradeAuditOptions, level: LevelName, driverName: ComposeDriver, log: Log): Promise<CellResult[]> {
  const started = performance.now();
  const evidenceDir = path.join(options.evidenceDir, `upgrade-${level}-${driverName}`);
  await mkdir(evidenceDir, { recursive: true });
  const steps = new Map<string, StepRecord[]>(options.names.map((n) => [n, []]));
  const errors = new Map<string, string>();
  let guest: ComposeGuest | undefined;
  try {
    guest = await (await options.guests(driverName)).open(level, evidenceDir);
    const run: UpgradeRun = { options, level, driverName, driver: DRIVERS[driverName], guest, steps, errors, log };
    const upgraded = await populated(run);
    await upgradeAndJudge(run, upgraded);
  } catch (error) {
    const message = `the ${level}/${driverName} upgrade guest failed: ${errorMessage(error)}`;
    log(`upgrade ${level}/${driverName}: ${message}`);
    for (const name of steps.keys()) if (!errors.has(name)) errors.set(name, message);
  } finally {
    await guest?.dispose().catch((error: unknown) => log(`upgrade ${level}/${driverName}: teardown: ${errorMessage(error)}`));
  }
  const names = [...steps.keys()].sort();
  const share = (performance.now() - started) / Math.max(1, names.length);
  return names.map((name) =>
    nameCell(
      {
        scenario: `${UPGRADE_PREFIX}${scenarioName(name)}`,
        packageName: name,
        title: `Release upgrade of ${name}: after N → N+1, the best variant of N+1 is installed and runs`,
        level,
        driver: driverName,
        steps: steps.get(name)!,
        ...(errors.has(name) ? { error: errors.get(name)! } : {}),
        guest,
        timings: { totalMs: Math.round(share), bootMs: Math.round((guest?.bootMs ?? 0) / names.length), packageManagerMs: 0, programMs: 0 },
        repro: `${levelgateCommand()} compose ${options.to.repo.dir} --upgrade-from ${options.from.repo.dir} --level ${level} --driver ${driverName} --packages ${name}`,
        pattern: options.patternOf(name),
      },
      options.knownIssues,
      new Date().toISOString().slice(0, 10),
    ),
  );
}

/**
 * Release N as the snapshot left it: every name asked for judged on what is installed
 * (the variant the driver chose at this level, or the tool's own output when it could
 * not install the name), and every other package installed from N (what they pulled
 * in) added to the names judged after the upgrade. Returns the names to judge.
 */
async function populated({ options, level, driverName, driver, guest, steps, log }: UpgradeRun): Promise<string[]> {
  const runner = composeRunner(guest);
  const query = await recorded(runner, driver.installedQuery.argv, 'query', runner.commandMs);
  if (query.result.exitCode !== 0) throw new Error(`${query.record.command}: exit ${query.result.exitCode}`);
  const onN = driver.parseInstalled(query.result.stdout).flatMap((n) => parseNevra(n) ?? []);
  const fromN = new Set(options.from.compose.packages.map((p) => p.name));
  const failedFile = await guest.guest.exec(['cat', `${POPULATE_DIR}/failed`], { timeoutMs: runner.commandMs });
  const failed = new Set(failedFile.exitCode === 0 ? parseFailed(failedFile.stdout) : []);
  const title = `installed from ${options.from.repo.name} with ${driverName} at ${level} when the release-N snapshot was made (${POPULATE_BATCH} names a batch, a refused batch one name at a time)`;
  const judged: string[] = [];
  for (const name of options.names) {
    const have = onN.filter((p) => p.name === name);
    const commands: CommandRecord[] = [aboutName(query.record, name, options.names.length)];
    let check: CheckResult;
    if (failed.has(name)) {
      const why = await recorded(runner, ['cat', `${POPULATE_DIR}/${name}.log`], 'query', runner.commandMs);
      commands.push(why.record);
      check = { kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual: `refused: ${linesAbout(name, why.result.stdout).split('\n')[0] || why.result.stdout.trim().split('\n').at(-1) || 'no output'}`, status: 'fail', deviation: 'refused' };
    } else {
      check = selectionCheck(name, level, options.from.compose.packages, have);
    }
    steps.get(name)!.push(step(1, title, level, commands, [check]));
    if (have.length) judged.push(name);
  }
  // What the names pulled in from N: judged after the upgrade too (nothing stale), each its own testcase.
  for (const name of new Set(onN.filter((p) => fromN.has(p.name) && !steps.has(p.name)).map((p) => p.name))) {
    steps.set(name, [step(1, `installed from ${options.from.repo.name} as a dependency when the release-N snapshot was made`, level, [aboutName(query.record, name, onN.length)], [])]);
    judged.push(name);
  }
  log(`upgrade ${level}/${driverName}: ${onN.length} packages installed (${judged.length} from N, ${failed.size} names refused); upgrading to ${options.to.repo.name}`);
  return judged.sort();
}

/** N+1: only its repository enabled, the driver's release upgrade, every installed name judged; then, if asked, the disk one level down. */
async function upgradeAndJudge(run: UpgradeRun, upgraded: readonly string[]): Promise<void> {
  const { options, level, driverName, driver, guest, log } = run;
  await enableRepo(composeRunner(guest), driver, options.to.repo);
  const sync = driver.operation('distro-sync', [])!;
  const up = await recorded(composeRunner(guest), sync.argv, 'action', DEFAULTS.releaseUpgradeTimeoutMs);
  const upJudged = driver.judge('operation', up.result);
  if (upJudged.kind === 'error' || upJudged.kind === 'broken') throw new Error(`${driverName} release upgrade: ${upJudged.message}`);
  await judgeAfter(run, upgraded, 2, `release upgrade to ${options.to.repo.name} (${up.record.command.split(' ').slice(-1)[0]}), then run what it ships`, level, up.record, upJudged.kind === 'ok');
  log(`upgrade ${level}/${driverName}: upgraded in ${Math.round(up.record.durationMs / 100) / 10} s; ${upgraded.length} names judged`);
  const below = levelBelow(level);
  if (!options.moveDown || !below) return;
  await guest.moveTo(below);
  const down = await recorded(composeRunner(guest), sync.argv, 'action', DEFAULTS.releaseUpgradeTimeoutMs);
  const downJudged = driver.judge('operation', down.result);
  if (downJudged.kind === 'error' || downJudged.kind === 'broken') throw new Error(`${driverName} distro-sync on ${below}: ${downJudged.message}`);
  await judgeAfter(run, upgraded, 3, `the disk moved to a ${below} CPU, distro-synced, then run what it ships`, below, down.record, downJudged.kind === 'ok');
}

/** Every upgraded name after a sync at `atLevel`: the best variant of N+1 for that CPU, nothing older left (stale), what it ships runs. */
async function judgeAfter({ options, driver, guest, steps }: UpgradeRun, upgraded: readonly string[], index: number, title: string, atLevel: LevelName, command: CommandRecord, ok: boolean): Promise<void> {
  const runner = composeRunner(guest);
  const audited = new Set(options.names);
  const after = await installedPackages(runner, driver);
  const have = new Map(upgraded.map((name) => [name, after.filter((p) => p.name === name)]));
  // The audited names' programs and libraries run, all in one guest command; a dependency is judged on its version (its builds are baseline-only).
  const ran = await runChecksOfBatch(runner, upgraded.filter((name) => have.get(name)!.length === 1 && audited.has(name)).map((name) => ({ name, installed: have.get(name)![0]!, ships: options.to.compose.checksOf(name) })));
  for (const name of upgraded) {
    const checks: CheckResult[] = [];
    const commands: CommandRecord[] = [aboutName(command, name, upgraded.length)];
    if (!ok) checks.push({ kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual: `refused: ${command.stderr.trim().split('\n').slice(-2).join(' | ')}`, status: 'fail', deviation: 'refused' });
    const check = selectionCheck(name, atLevel, options.to.compose.packages, have.get(name)!);
    checks.push({ ...check, kind: 'current', check: `current ${name}`, ...(check.deviation === 'older' ? { deviation: 'stale' as const } : {}) });
    const own = ran.get(name);
    if (own) {
      checks.push(...own.checks);
      commands.push(...own.commands);
    }
    steps.get(name)!.push(step(index, title, atLevel, commands, checks));
  }
}

const step = (index: number, title: string, level: LevelName, commands: CommandRecord[], checks: CheckResult[]): StepRecord => ({ index, title, action: index === 1 ? 'install' : 'distro-sync', level, commands, installedBefore: [], installedAfter: [], checks });
