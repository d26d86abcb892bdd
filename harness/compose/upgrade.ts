// The release upgrade at compose scale: per level × driver, one guest populated from
// release N (every audited name, and as many other names as asked, installed in
// batches), upgraded to N+1 by the driver's release upgrade (dnf5 distro-sync, zypper
// dist-upgrade with only N+1 enabled), then every populated name judged: the best
// variant of N+1 installed (an older build left is stale), its programs run and its
// libraries loaded. Optionally the same disk is moved one level down and
// distro-synced, and judged again at that level. Each name is one cell,
// compose-upgrade.NAME[level,driver].
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import { DEFAULTS } from '../model/defaults.js';
import { DRIVERS } from '../drivers/index.js';
import { levelBelow } from '../levels/arch.js';
import type { LevelName } from '../levels/table.js';
import type { KnownIssue } from '../plan/known-issues.js';
import { guestAttachedPath, type AttachedRepo } from '../repos/catalog.js';
import { parseNevra, type AvailablePackage } from '../packages/available.js';
import type { CellResult, CheckResult, CommandRecord, StepRecord } from '../results/types.js';
import { errorMessage } from '../util/errors.js';
import { levelgateCommand } from '../util/invocation.js';
import { silentLog, type Log } from '../util/log.js';
import { settleInBatches } from './batches.js';
import type { ComposeGuest, ComposeGuestSource } from './guests.js';
import type { ComposeMetadata } from './metadata.js';
import { everyLevelAndDriver, nameCell, scenarioName } from './name-cell.js';
import { recorded, runChecks, type GuestRunner } from './run-checks.js';
import { aboutName, linesAbout, selectionCheck, type ComposeDriver } from './selection.js';

export const UPGRADE_PREFIX = 'compose-upgrade.';

export interface UpgradeAuditOptions {
  readonly from: { readonly repo: AttachedRepo; readonly compose: ComposeMetadata };
  readonly to: { readonly repo: AttachedRepo; readonly compose: ComposeMetadata };
  /** The names installed from N, then judged after the upgrade. */
  readonly names: readonly string[];
  readonly levels: readonly LevelName[];
  readonly drivers: readonly ComposeDriver[];
  readonly guests: ComposeGuestSource;
  readonly knownIssues: readonly KnownIssue[];
  readonly evidenceDir: string;
  /** Also move the upgraded disk one level down and distro-sync it. */
  readonly moveDown?: boolean;
  readonly installBatch?: number;
  readonly workers?: number;
  readonly patternOf: (name: string) => string;
  readonly log?: Log;
  readonly signal?: AbortSignal;
}

export async function auditUpgrade(options: UpgradeAuditOptions): Promise<CellResult[]> {
  return everyLevelAndDriver(options.levels, options.drivers, options.workers ?? 2, options.signal, (level, driver) => upgradeOne(options, level, driver, options.log ?? silentLog));
}

async function upgradeOne(options: UpgradeAuditOptions, level: LevelName, driverName: ComposeDriver, log: Log): Promise<CellResult[]> {
  const started = performance.now();
  const driver = DRIVERS[driverName];
  const evidenceDir = path.join(options.evidenceDir, `upgrade-${level}-${driverName}`);
  await mkdir(evidenceDir, { recursive: true });
  const steps = new Map<string, StepRecord[]>(options.names.map((n) => [n, []]));
  const errors = new Map<string, string>();
  let guest: ComposeGuest | undefined;
  const where = `upgrade ${level}/${driverName}`;
  try {
    guest = await options.guests.open(level, evidenceDir);
    const runner = (): GuestRunner => ({ guest: guest!.guest, commandMs: DEFAULTS.commandTimeoutMs, programMs: DEFAULTS.programTimeoutMs });
    const enable = async (repo: AttachedRepo) => {
      const setup = driver.configureRepos([{ id: repo.name, path: guestAttachedPath(repo.name) }]);
      for (const c of [...setup.commands, ...(setup.refresh ? [setup.refresh] : [])]) {
        const r = await guest!.guest.exec(c.argv, { timeoutMs: DEFAULTS.commandTimeoutMs, ...(c.input !== undefined ? { input: c.input } : {}) });
        if (r.exitCode !== 0) throw new Error(`${r.command}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
      }
    };
    const installed = async (): Promise<AvailablePackage[]> => {
      const r = await guest!.guest.exec(driver.installedQuery.argv, { timeoutMs: DEFAULTS.commandTimeoutMs });
      if (r.exitCode !== 0) throw new Error(`${r.command}: exit ${r.exitCode}`);
      return driver.parseInstalled(r.stdout).flatMap((n) => parseNevra(n) ?? []);
    };

    // Release N: the names installed in batches (a name N cannot install is that name's failure).
    await enable(options.from.repo);
    log(`${where}: installing ${options.names.length} names from ${options.from.repo.name}`);
    const populated = await settleInBatches(options.names, options.installBatch ?? 50, async (batch) => {
      const { result, record } = await recorded(runner(), driver.operation('install', batch)!.argv, 'action', DEFAULTS.commandTimeoutMs);
      const judged = driver.judge('operation', result);
      if (judged.kind === 'ok') return { kind: 'ok', value: record };
      if (judged.kind === 'refused') return { kind: 'refused', value: record, suspects: batch.filter((n) => linesAbout(n, `${result.stdout}\n${result.stderr}`)) };
      throw new Error(`${driverName} install: ${judged.message}`);
    });
    const onN = await installed();
    const upgraded: string[] = [];
    for (const settled of populated) {
      for (const name of settled.names) {
        if (settled.outcome.kind === 'error') {
          errors.set(name, `installing ${name} from release N: ${errorMessage(settled.outcome.error)}`);
          continue;
        }
        const record = settled.outcome.value;
        const have = onN.filter((p) => p.name === name);
        const check: CheckResult =
          settled.outcome.kind === 'refused'
            ? { kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual: `refused: ${linesAbout(name, `${record.stdout}\n${record.stderr}`).split('\n')[0] ?? ''}`, status: 'fail', deviation: 'refused' }
            : selectionCheck(name, level, options.from.compose.packages, have);
        steps.get(name)!.push(step(1, `install ${name} from ${options.from.repo.name} (${settled.names.length} names at once)`, level, [aboutName(record, name, settled.names.length)], [check]));
        if (settled.outcome.kind === 'ok' && have.length) upgraded.push(name);
      }
    }
    log(`${where}: ${onN.length} packages installed from N; upgrading to ${options.to.repo.name}`);

    // N+1: only its repository enabled, the driver's release upgrade.
    await enable(options.to.repo);
    const judgeAfter = async (index: number, title: string, atLevel: LevelName, command: CommandRecord, ok: boolean) => {
      const after = await installed();
      for (const name of upgraded) {
        const have = after.filter((p) => p.name === name);
        const checks: CheckResult[] = [];
        const commands: CommandRecord[] = [aboutName(command, name, upgraded.length)];
        if (!ok) checks.push({ kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual: `refused: ${command.stderr.trim().split('\n').slice(-2).join(' | ')}`, status: 'fail', deviation: 'refused' });
        // The best variant of N+1 for this CPU, and nothing older left: an older build is stale.
        const check = selectionCheck(name, atLevel, options.to.compose.packages, have);
        checks.push({ ...check, kind: 'current', check: `current ${name}`, ...(check.deviation === 'older' ? { deviation: 'stale' as const } : {}) });
        if (have.length === 1) {
          const ran = await runChecks(runner(), name, have[0]!, options.to.compose.checksOf(name));
          checks.push(...ran.checks);
          commands.push(...ran.commands);
        }
        steps.get(name)!.push(step(index, title, atLevel, commands, checks));
      }
    };
    const sync = driver.operation('distro-sync', [])!;
    const up = await recorded(runner(), sync.argv, 'action', DEFAULTS.commandTimeoutMs * 2);
    const upJudged = driver.judge('operation', up.result);
    if (upJudged.kind === 'error' || upJudged.kind === 'broken') throw new Error(`${driverName} release upgrade: ${upJudged.message}`);
    await judgeAfter(2, `release upgrade to ${options.to.repo.name} (${up.record.command.split(' ').slice(-1)[0]}), then run what it ships`, level, up.record, upJudged.kind === 'ok');
    log(`${where}: upgraded in ${Math.round(up.record.durationMs / 100) / 10} s; ${upgraded.length} names judged`);

    const below = levelBelow(level);
    if (options.moveDown && below) {
      await guest.moveTo(below);
      const down = await recorded(runner(), sync.argv, 'action', DEFAULTS.commandTimeoutMs * 2);
      const downJudged = driver.judge('operation', down.result);
      if (downJudged.kind === 'error' || downJudged.kind === 'broken') throw new Error(`${driverName} distro-sync on ${below}: ${downJudged.message}`);
      await judgeAfter(3, `the disk moved to a ${below} CPU, distro-synced, then run what it ships`, below, down.record, downJudged.kind === 'ok');
    }
  } catch (error) {
    const message = `the ${level}/${driverName} upgrade guest failed: ${errorMessage(error)}`;
    log(`${where}: ${message}`);
    for (const name of options.names) if (!errors.has(name)) errors.set(name, message);
  } finally {
    await guest?.dispose().catch((error: unknown) => log(`${where}: teardown: ${errorMessage(error)}`));
  }
  const share = (performance.now() - started) / Math.max(1, options.names.length);
  return options.names.map((name) =>
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
        timings: { totalMs: Math.round(share), bootMs: Math.round((guest?.bootMs ?? 0) / options.names.length), packageManagerMs: 0, programMs: 0 },
        repro: `${levelgateCommand()} compose ${options.to.repo.dir} --upgrade-from ${options.from.repo.dir} --level ${level} --driver ${driverName} --packages ${name}`,
        pattern: options.patternOf(name),
      },
      options.knownIssues,
      new Date().toISOString().slice(0, 10),
    ),
  );
}

const step = (index: number, title: string, level: LevelName, commands: CommandRecord[], checks: CheckResult[]): StepRecord => ({ index, title, action: index === 1 ? 'install' : 'distro-sync', level, commands, installedBefore: [], installedAfter: [], checks });
