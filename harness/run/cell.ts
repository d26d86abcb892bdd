// Runs one cell (scenario × level × driver) in real guests and turns what happened
// into a verdict with its evidence: every command with its output, the installed NEVRA
// set before and after each step, every check. Exit codes and "Nothing to do" are
// never trusted: the rpm database and the programs themselves are the evidence.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { dir } from 'tmp-promise';
import { ACCEL_SLOWDOWN, type AccelChoice } from '../accel/choose.js';
import { DRIVERS } from '../drivers/index.js';
import { parseInstalled, QUERY_INSTALLED, type GuestCommand } from '../drivers/driver.js';
import { guestRepoPath, type FixtureSet } from '../fixtures/build.js';
import { quoteCommand, type CommandResult } from '../guest/guest.js';
import type { AgentGuest } from '../guest/agent-guest.js';
import { BOCHS_BOOT_TIMEOUT_MS } from '../guest/bochs-guest.js';
import { bootGuest, newDiskState } from '../guest/boot-guest.js';
import type { ImageArtifacts } from '../image/build.js';
import type { LevelProof } from '../levels/proof.js';
import { levelIndex, LEVEL_NAMES, type LevelName } from '../levels/table.js';
import { knownIssueFor, type Cell } from '../plan/plan.js';
import { evaluate, type CheckResult, type Observation } from '../scenario/evaluate.js';
import type { KnownIssue, PackageBuild, Step } from '../scenario/types.js';
import { errorMessage, InterruptedError, LevelgateError } from '../util/errors.js';

export type Verdict = 'pass' | 'fail' | 'xfail' | 'xpass' | 'skip' | 'error';

export interface CommandRecord {
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly consoleEvents: readonly string[];
}

export interface StepRecord {
  readonly index: number;
  readonly title: string;
  /** The guest's level while the step ran. */
  readonly level: LevelName;
  readonly commands: readonly CommandRecord[];
  readonly installedBefore: readonly string[];
  readonly installedAfter: readonly string[];
  readonly checks: readonly CheckResult[];
}

/** What a report needs to know about where a cell ran. */
export interface CellFacts {
  readonly cpu: string;
  readonly accel: string;
  readonly emulator: string;
  readonly fidelity: string;
  readonly imageDigest: string;
  readonly kernel: string;
  /** The package manager and its Debian package version in the guest. */
  readonly packageManager: string;
}

export interface CellResult {
  readonly id: string;
  readonly scenario: string;
  readonly title: string;
  readonly level: LevelName;
  readonly driver: string;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly knownIssue?: KnownIssue;
  readonly expiredKnownIssues: readonly KnownIssue[];
  readonly accel?: string;
  readonly proofs: readonly LevelProof[];
  readonly steps: readonly StepRecord[];
  readonly consoleLogs: readonly string[];
  readonly timings: { readonly totalMs: number; readonly bootMs: number; readonly packageManagerMs: number; readonly harnessMs: number };
  readonly facts?: CellFacts;
  /** The one-line command that runs this cell again, alone, with live output. */
  readonly repro: string;
  /** 1, or more when an infrastructure error was retried. */
  readonly attempts: number;
  /** An infrastructure error happened and a retry settled the cell. */
  readonly flaky: boolean;
}

/** The Debian packages behind each driver, as recorded in the image manifest. */
const DRIVER_PACKAGES: Record<string, readonly string[]> = { dnf5: ['dnf5', 'libsolv1', 'rpm'], zypper: ['zypper', 'libzypp', 'libsolv1', 'rpm'], rpm: ['rpm'] };

export function reproCommand(cell: Pick<Cell, 'scenario' | 'level' | 'driver'>, accel?: string): string {
  return `./levelgate repro ${cell.scenario.id} --level ${cell.level} --driver ${cell.driver}${accel && accel !== 'auto' ? ` --accel ${accel}` : ''}`;
}

export interface CellEnvironment {
  readonly image: ImageArtifacts;
  readonly fixtures: FixtureSet;
  /** The accelerator for each level the cell may boot at. */
  readonly accel: (level: LevelName) => AccelChoice;
  readonly knownIssues: readonly KnownIssue[];
  /** Per-cell evidence (console logs) goes below this directory. */
  readonly evidenceDir: string;
  readonly today: string;
  readonly signal?: AbortSignal;
  /** The --accel the user asked for, for the repro command. */
  readonly accelRequest?: string;
  readonly hooks?: CellHooks;
  /** Attach a shell port to the guest (repro --keep). */
  readonly shell?: boolean;
  /** Stretches boot and command time limits when guests outnumber cores (default 1). */
  readonly timeScale?: number;
}

/** Time limits under TCG on an unloaded host; scaled by CellEnvironment.timeScale and the accelerator's slowdown. */
export const BOOT_TIMEOUT_MS = 60_000;
export const COMMAND_TIMEOUT_MS = 300_000;

export interface CellHooks {
  readonly onStepStart?: (cell: Cell, index: number, title: string) => void;
  readonly onStepEnd?: (cell: Cell, step: StepRecord) => void;
  readonly onCommand?: (cell: Cell, command: string) => void;
  readonly onOutput?: (cell: Cell, chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  readonly onGuest?: (cell: Cell, guest: AgentGuest) => void;
  /** Called with the live guest after the last step, before teardown (repro --keep waits here). */
  readonly beforeTeardown?: (cell: Cell, guest: AgentGuest) => Promise<void>;
}

function stepTitle(step: Step): string {
  switch (step.kind) {
    case 'repos':
      return `enable repositories: ${step.use.join(', ') || 'none'}`;
    case 'operation':
      return `${step.op} ${step.packages.join(' ')}`;
    case 'install-file':
      return `install local file ${step.nevra}.rpm`;
    case 'list-updates':
      return 'list available updates';
    case 'move-to':
      return `move the disk to a ${step.level === 'one-below' ? 'CPU one level below' : `${step.level} CPU`}`;
    case 'detect':
      return 'detect the machine arch';
  }
}

function record(result: CommandResult): CommandRecord {
  return {
    command: result.command,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: result.durationMs,
    consoleEvents: result.consoleEvents.map((e) => `${e.kind}: ${e.line}`),
  };
}

function describeRun(result: CommandResult): string {
  if (result.signal === 'SIGILL') return 'sigill';
  if (result.signal) return `signal ${result.signal}`;
  if (result.spawnFailed) return 'not installed';
  if (result.exitCode !== 0) return `exit ${result.exitCode}: ${(result.stderr.trim().split('\n')[0] ?? '').slice(0, 120)}`;
  return result.stdout.trim().split('\n')[0] ?? '';
}

/** The level a move-to step boots at. */
function moveTarget(from: LevelName, to: LevelName | 'one-below'): LevelName {
  return to === 'one-below' ? LEVEL_NAMES[levelIndex(from) - 1]! : to;
}

/** Classifies the cell from its checks and the known issues. */
export function verdictFor(failedChecks: readonly string[], issue: KnownIssue | undefined): { verdict: Verdict; reason: string } {
  if (failedChecks.length === 0) {
    return issue
      ? { verdict: 'xpass', reason: `passed, but is listed as a known issue (${issue.tracker}): remove the entry` }
      : { verdict: 'pass', reason: 'every check passed' };
  }
  const first = failedChecks[0]!;
  return issue ? { verdict: 'xfail', reason: `${first} — known issue: ${issue.reason} (${issue.tracker})` } : { verdict: 'fail', reason: first };
}

export async function runCell(cell: Cell, env: CellEnvironment): Promise<CellResult> {
  const started = performance.now();
  const { issue, expired } = knownIssueFor(cell, env.knownIssues, env.today);
  const base = {
    id: cell.id,
    scenario: cell.scenario.id,
    title: cell.scenario.title,
    level: cell.level,
    driver: cell.driver,
    expiredKnownIssues: expired,
    repro: reproCommand(cell, env.accelRequest),
    attempts: 1,
    flaky: false,
  };
  let facts: CellFacts | undefined;
  const steps: StepRecord[] = [];
  const proofs: LevelProof[] = [];
  const consoleLogs: string[] = [];
  let bootMs = 0;
  let packageManagerMs = 0;
  const finish = (verdict: Verdict, reason: string, accel?: string): CellResult => {
    const totalMs = Math.round(performance.now() - started);
    return {
      ...base,
      verdict,
      reason,
      ...(issue ? { knownIssue: issue } : {}),
      ...(accel ? { accel } : {}),
      proofs,
      steps,
      consoleLogs,
      ...(facts ? { facts } : {}),
      timings: { totalMs, bootMs: Math.round(bootMs), packageManagerMs: Math.round(packageManagerMs), harnessMs: Math.max(0, Math.round(totalMs - bootMs - packageManagerMs)) },
    };
  };

  // Every level the cell boots at must be available, or the cell is a skip. A disk
  // Bochs started stays with Bochs (its redolog is Bochs's format): Bochs runs every
  // level, and each boot proves its level anyway.
  const startedOn = env.accel(cell.level);
  const accelAt = (at: LevelName): AccelChoice =>
    startedOn.accel === 'bochs' && at !== cell.level ? { level: at, accel: 'bochs', why: 'the disk stays with Bochs' } : env.accel(at);
  const levels = [cell.level];
  for (const step of cell.scenario.steps) {
    if (step.kind !== 'move-to') continue;
    levels.push(moveTarget(levels.at(-1)!, step.level));
  }
  for (const level of levels) {
    const choice = accelAt(level);
    if (choice.accel === null) return finish('skip', level === cell.level ? choice.skipReason : `the scenario moves the disk to ${level}: ${choice.skipReason}`);
  }

  const driver = DRIVERS[cell.driver];
  const evidence = path.join(env.evidenceDir, cell.id.replace(/[^\w.-]+/g, '_'));
  await mkdir(evidence, { recursive: true });
  const scratch = await dir({ prefix: 'levelgate-cell-', unsafeCleanup: true });
  let guest: AgentGuest | undefined;
  let level = cell.level;
  const firstAccel = startedOn.accel ?? undefined;
  const slowdown = ACCEL_SLOWDOWN[firstAccel ?? 'tcg'];
  try {
    const disk = await newDiskState(firstAccel ?? 'tcg', env.image, path.join(scratch.path, 'disk'), env.signal);
    const boot = async (at: LevelName) => {
      const t = performance.now();
      const consoleLog = path.join(evidence, `console-${consoleLogs.length + 1}-${at}.log`);
      consoleLogs.push(consoleLog);
      const accel = accelAt(at).accel!;
      guest = await bootGuest({
        image: env.image,
        level: at,
        accel,
        disk,
        dataDisks: [{ name: 'fixtures', path: env.fixtures.disk }],
        consoleLog,
        bootTimeoutMs: (accel === 'bochs' ? BOCHS_BOOT_TIMEOUT_MS : BOOT_TIMEOUT_MS) * (env.timeScale ?? 1),
        ...(env.shell ? { shell: true } : {}),
        ...(env.signal ? { signal: env.signal } : {}),
      });
      proofs.push(guest.proof);
      bootMs += performance.now() - t;
      env.hooks?.onGuest?.(cell, guest);
      const packages = env.image.manifest.packages;
      facts ??= {
        cpu: guest.facts.cpu,
        accel: guest.facts.accel,
        emulator: `${guest.facts.backend === 'bochs' ? 'Bochs' : 'QEMU'} ${guest.facts.emulatorVersion}`,
        fidelity: guest.proof.fidelity,
        imageDigest: env.image.digest,
        kernel: env.image.manifest.kernel.release,
        packageManager: (DRIVER_PACKAGES[cell.driver] ?? []).map((p) => `${p} ${packages[p] ?? '?'}`).join(', '),
      };
    };
    await boot(level);

    const enabled: PackageBuild[] = [];
    const failed: string[] = [];
    /** The rpm database as last read: one step's "after" is the next step's "before". */
    let installedNow: string[] | undefined;
    for (const [index, step] of cell.scenario.steps.entries()) {
      const commands: CommandRecord[] = [];
      env.hooks?.onStepStart?.(cell, index + 1, stepTitle(step));
      const run = async (command: GuestCommand, countsAsPackageManager = true): Promise<CommandResult> => {
        env.hooks?.onCommand?.(cell, quoteCommand(command.argv));
        const onOutput = env.hooks?.onOutput;
        const result = await guest!.exec(command.argv, {
          ...(command.input !== undefined ? { input: command.input } : {}),
          timeoutMs: COMMAND_TIMEOUT_MS * (env.timeScale ?? 1) * slowdown,
          ...(onOutput ? { onStdout: (c: Buffer) => onOutput(cell, c, 'stdout'), onStderr: (c: Buffer) => onOutput(cell, c, 'stderr') } : {}),
          ...(env.signal ? { signal: env.signal } : {}),
        });
        commands.push(record(result));
        if (countsAsPackageManager) packageManagerMs += result.durationMs;
        return result;
      };
      const installed = async () => parseInstalled((await run(QUERY_INSTALLED, false)).stdout);
      const installedBefore = installedNow ?? (await installed());
      let exitCode: number | null | undefined;
      let updates: string[] | undefined;
      let detectedArch: string | undefined;

      switch (step.kind) {
        case 'repos': {
          enabled.length = 0;
          for (const id of step.use) enabled.push(...(cell.scenario.repos[id] ?? []));
          // Repository ids carry the scenario's name: a bare "main" is dnf's [main] config section.
          const refs = step.use.map((id) => ({ id: `${cell.scenario.id}-${id}`, path: guestRepoPath(cell.scenario.id, id) }));
          for (const command of driver.useRepos(refs)) {
            const result = await run(command);
            if (result.exitCode !== 0) throw new StepFailure(`${stepTitle(step)}: \`${result.command}\` exited ${result.exitCode}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
          }
          break;
        }
        case 'operation': {
          const command = driver.operation(step.op, step.packages);
          if (!command) throw new StepFailure(`${cell.driver} has no ${step.op} operation`);
          exitCode = (await run(command)).exitCode;
          break;
        }
        case 'install-file':
          exitCode = (await run(driver.installFile(`${guestRepoPath(cell.scenario.id, step.repo)}/${step.nevra}.rpm`))).exitCode;
          break;
        case 'list-updates': {
          const command = driver.listUpdates();
          if (!command) throw new StepFailure(`${cell.driver} cannot list updates`);
          const result = await run(command);
          exitCode = result.exitCode;
          updates = driver.parseUpdates(result.stdout);
          break;
        }
        case 'detect': {
          const result = await run(driver.detectArch());
          exitCode = result.exitCode;
          detectedArch = driver.parseDetectedArch(result.stdout);
          break;
        }
        case 'move-to': {
          await guest!.powerOff();
          await guest!.dispose();
          level = moveTarget(level, step.level);
          await boot(level);
          break;
        }
      }

      // Enabling repositories installs nothing; every other step is checked against the database itself.
      const installedAfter = step.kind === 'repos' ? installedBefore : await installed();
      installedNow = installedAfter;
      let checks: CheckResult[] = [];
      const expect = 'expect' in step ? step.expect : undefined;
      if (expect) {
        const expectation = expect(cell.level, cell.driver);
        const runs: Record<string, string> = {};
        for (const program of Object.keys(expectation.runs ?? {})) runs[program] = describeRun(await run({ argv: [`/usr/bin/${program}`] }, false));
        const loads: Record<string, string> = {};
        for (const program of Object.keys(expectation.loads ?? {})) {
          const line = describeRun(await run({ argv: [`/usr/bin/${program}`] }, false));
          loads[program] = line.split(' ')[1] ?? line;
        }
        const seen: Observation = { ...(exitCode !== undefined ? { exitCode } : {}), installed: installedAfter, runs, loads, ...(updates ? { updates } : {}), detectedArch };
        checks = evaluate(expectation, seen, level, enabled);
      }
      const stepRecord: StepRecord = { index: index + 1, title: stepTitle(step), level, commands, installedBefore, installedAfter, checks };
      steps.push(stepRecord);
      env.hooks?.onStepEnd?.(cell, stepRecord);
      for (const c of checks) if (!c.ok) failed.push(`step ${index + 1} (${stepTitle(step)}): ${c.check}: expected ${c.expected}, got ${c.actual}`);
    }
    const { verdict, reason } = verdictFor(failed, issue);
    if (guest && env.hooks?.beforeTeardown) await env.hooks.beforeTeardown(cell, guest);
    return finish(verdict, reason, firstAccel);
  } catch (error) {
    if (error instanceof StepFailure) {
      const { verdict, reason } = verdictFor([error.message], issue);
      return finish(verdict, reason, firstAccel);
    }
    if (error instanceof InterruptedError || env.signal?.aborted) return finish('error', 'interrupted', firstAccel);
    const detail = error instanceof LevelgateError ? error.describe() : errorMessage(error);
    return finish('error', detail.split('\n')[0] ?? detail, firstAccel);
  } finally {
    await (guest as AgentGuest | undefined)?.dispose().catch(() => {});
    await scratch.cleanup();
  }
}

/** A step the tool could not carry out (a repository it refused): a failing check, not an infrastructure error. */
class StepFailure extends Error {}
