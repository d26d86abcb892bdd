// Runs one cell (scenario × level × driver) in real guests and turns what happened into
// a verdict with its evidence. The steps run in the interpreter; this module provides
// the guests, the repositories and the known issues, and decides the verdict: the
// product's failure (a crash, a broken contract, a hang) is a fail; an error says
// whether the emulator (retried) or the harness (not retried) failed.
import { limitsFor } from '../config/limits.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dir } from 'tmp-promise';
import { BACKENDS } from '../accel/backends.js';
import type { AccelChoice } from '../accel/choose.js';
import type { RequiredFidelity } from '../accel/fidelity.js';
import { exactTarget } from '../levels/targets.js';
import { cannotTrap, didNotTrap, trapRequirement } from './fidelity-rule.js';
import { levelgateCommand } from '../util/invocation.js';
import type { PackageDriver } from '../drivers/driver.js';
import { DRIVERS } from '../drivers/index.js';
import type { ForensicsRecord } from '../forensics/record.js';
import type { AgentGuest } from '../guest/agent-guest.js';
import type { LevelName } from '../levels/table.js';
import { issuesCovering, refOf, type KnownIssue } from '../plan/known-issues.js';
import type { Cell } from '../plan/plan.js';
import { DRIVER_FORMAT, type DriverName } from '../scenario/types.js';
import type { RepoCatalog } from '../repos/catalog.js';
import type { CellFacts, CellResult, StepRecord, Verdict } from '../results/types.js';
import { errorMessage, GuestError, InitKilledError, InterruptedError, LevelgateError } from '../util/errors.js';
import type { InstallAuditor } from '../audit/install-auditor.js';
import { auditInstalls } from './install-audit.js';
import { CellError, interpret, levelsVisited, ProductFailure, type Transcript } from './interpreter.js';
import { imageCannotRun, type CellGuests, type CellSession, type SessionRequest } from './session.js';
import { firstSolverFailure, writeReproducer } from './reproducer.js';
import { judgeCell } from './verdict.js';

/** The Debian packages behind each driver, as recorded in the image manifest. */
const DRIVER_PACKAGES: Record<string, readonly string[]> = { dnf5: ['dnf5', 'libsolv1', 'rpm'], zypper: ['zypper', 'libzypp', 'libsolv1', 'rpm'], rpm: ['rpm'] };

export function reproCommand(cell: Pick<Cell, 'scenario' | 'target' | 'driver'>, accel?: string, audit = false): string {
  return `${levelgateCommand()} repro ${cell.scenario.id} --level ${cell.target.name} --driver ${cell.driver}${accel && accel !== 'auto' ? ` --accel ${accel}` : ''}${audit ? ' --audit' : ''}`;
}

export interface CellHooks {
  readonly onStepStart?: (cell: Cell, index: number, title: string) => void;
  readonly onStepEnd?: (cell: Cell, step: StepRecord) => void;
  readonly onCommand?: (cell: Cell, command: string) => void;
  readonly onOutput?: (cell: Cell, chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** A SIGILL in the cell, explained in one line. */
  readonly onForensics?: (cell: Cell, line: string) => void;
  readonly onGuest?: (cell: Cell, guest: AgentGuest) => void;
  /** Called with the live guest after the last step, before teardown (repro --keep waits here). */
  readonly beforeTeardown?: (cell: Cell, guest: AgentGuest) => Promise<void>;
}

/** What reports say about the image every cell runs. */
export interface ImageInfo {
  readonly digest: string;
  readonly kernel: string;
  /** Package name → version inside the image. */
  readonly packages: Readonly<Record<string, string>>;
  /** A distribution image (--image): its name, what its os-release calls it, its glibc, and its package managers' versions by driver. */
  readonly distribution?: { readonly name: string; readonly os: string; readonly glibc: string; readonly packageManagers: Readonly<Record<string, string>> };
}

export interface CellEnvironment {
  readonly image: ImageInfo;
  /** Where the cell's guests come from. */
  readonly guests: CellGuests;
  readonly catalog: RepoCatalog;
  /** The accelerator for each CPU target (by name: "v3", "v3-fma") the cell may boot at. */
  readonly accel: (target: string) => AccelChoice;
  readonly knownIssues: readonly KnownIssue[];
  /** Per-cell evidence (console logs, reproducers) goes below this directory. */
  readonly evidenceDir: string;
  /** YYYY-MM-DD: known issues expire after it. */
  readonly today: string;
  readonly signal?: AbortSignal;
  /** The --accel the user asked for, for the repro command. */
  readonly accelRequest?: string;
  readonly hooks?: CellHooks;
  /** Attach a shell port to the guest (repro --keep). */
  readonly shell?: boolean;
  /** Stretches boot and command time limits when guests outnumber cores (default 1). */
  readonly timeScale?: number;
  /** A level this host cannot provide, or provides only on a guest that cannot trap, is an error, not a skip (--require-levels). */
  readonly requireLevels?: boolean;
  /** 'traps': a cell whose guest cannot trap the instructions above its CPU is an error (--require-fidelity traps). */
  readonly requireFidelity?: RequiredFidelity;
  /** gate --audit: every package the steps install is audited against the guest's level (a check in its step). */
  readonly installAudit?: InstallAuditor;
  /** The drivers for this run's guests (a distribution image's own $releasever); default DRIVERS. */
  readonly drivers?: Readonly<Record<DriverName, PackageDriver>>;
  /** Why a driver cannot run in this run's guests (the image lacks its tool), or undefined: such cells are skips. */
  readonly driverUnavailable?: (driver: DriverName) => string | undefined;
  /** Absolute limits (ms) for package-manager commands and programs, instead of the defaults scaled by load and backend. */
  readonly limits?: { readonly commandMs?: number; readonly programMs?: number };
  /** Which attempt of the cell this is (1 unless an emulator error is being retried): each keeps its own evidence. */
  readonly attempt?: number;
}

/** The reason of a cell stopped by Ctrl-C (or SIGTERM) before it had a verdict. */
export const INTERRUPTED = 'interrupted';

/** Where an attempt's evidence goes: the cell's directory for the first, a subdirectory for each retry. */
export function attemptEvidenceDir(cellDir: string, attempt: number): string {
  return attempt > 1 ? path.join(cellDir, `attempt-${attempt}`) : cellDir;
}

/**
 * Whose failure an error is. The emulator's (its process died, the guest did not boot in
 * time, its agent was lost or the guest hung) may go away on a retry; the harness's, and
 * an init killed by the CPU (the image cannot run there), will not.
 */
export function errorSourceOf(error: unknown): 'emulator' | 'harness' {
  return error instanceof GuestError && !(error instanceof InitKilledError) ? 'emulator' : 'harness';
}

export async function runCell(cell: Cell, env: CellEnvironment): Promise<CellResult> {
  const started = performance.now();
  const { live, expired } = issuesCovering({ scenario: cell.scenario.id, level: cell.level, target: cell.target.name, driver: cell.driver }, env.knownIssues, env.today);
  const transcript: Transcript = { steps: [], forensics: [], packageManagerMs: 0, programMs: 0 };
  const evidence = attemptEvidenceDir(path.join(env.evidenceDir, cell.id.replace(/[^\w.-]+/g, '_')), env.attempt ?? 1);
  const attachments: string[] = [];
  let session: CellSession | undefined;
  let firstAccel: string | undefined;
  const finish = (verdict: Verdict, reason: string, extra: Partial<CellResult> = {}): CellResult => {
    const totalMs = Math.round(performance.now() - started);
    const bootMs = Math.round(session?.bootMs ?? 0);
    const packageManagerMs = Math.round(transcript.packageManagerMs);
    const programMs = Math.round(transcript.programMs);
    return {
      id: cell.id,
      scenario: cell.scenario.id,
      title: cell.scenario.title,
      target: cell.target.name,
      level: cell.level,
      driver: cell.driver,
      verdict,
      reason,
      knownIssues: [],
      expiredKnownIssues: expired.map(refOf),
      coveringKnownIssues: live.map(refOf),
      ...(firstAccel ? { accel: firstAccel } : {}),
      proofs: session?.proofs ?? [],
      steps: transcript.steps,
      consoleLogs: session?.consoleLogs ?? [],
      attachments,
      ...(session?.facts ? { facts: factsOf(session, env.image, cell.driver, cell.target.name) } : {}),
      timings: { totalMs, bootMs, packageManagerMs, programMs, harnessMs: Math.max(0, totalMs - bootMs - packageManagerMs - programMs) },
      repro: reproCommand(cell, env.accelRequest, env.installAudit !== undefined),
      attempts: 1,
      flaky: false,
      ...extra,
    };
  };

  // Every level the cell boots at must be available, or the cell is a skip (an error
  // when levels are required). A disk stays with backends of its format (a Bochs
  // redolog boots only in Bochs, which runs every level); each boot proves its level.
  // Boots at the level the cell's CPU meets are on that CPU again (a reboot of a near miss).
  const startedOn = env.accel(cell.target.name);
  const accelAt = (at: LevelName): AccelChoice => {
    if (at === cell.level) return startedOn;
    const choice = env.accel(at);
    if (!startedOn.accel || (choice.accel && BACKENDS[choice.accel].diskFormat === BACKENDS[startedOn.accel].diskFormat)) return choice;
    return { target: at, accel: startedOn.accel, why: `the disk stays with ${BACKENDS[startedOn.accel].title}, which made it` };
  };
  const noDriver = env.driverUnavailable?.(cell.driver);
  if (noDriver) return finish('skip', noDriver);
  let levels: LevelName[];
  try {
    levels = levelsVisited(cell.scenario, cell.level);
  } catch (error) {
    return finish('error', errorMessage(error));
  }
  for (const level of levels) {
    const choice = accelAt(level);
    if (choice.accel !== null) continue;
    const why = level === cell.level ? choice.skipReason : `the scenario moves the disk to ${level}: ${choice.skipReason}`;
    return env.requireLevels ? finish('error', `level ${level === cell.level ? cell.target.name : level} is required (--require-levels) but ${why}`) : finish('skip', why);
  }

  // A cell that must trap does not boot where the accelerator only masks CPUID (KVM at v1, v2...).
  const mustTrap = trapRequirement(env);
  for (const level of mustTrap ? levels : []) {
    const why = cannotTrap(level === cell.level ? cell.target : exactTarget(level), accelAt(level).accel!, mustTrap!);
    if (why) return finish('error', why);
  }

  const driver = (env.drivers ?? DRIVERS)[cell.driver];
  const first = startedOn.accel!;
  firstAccel = first;
  const timeScale = env.timeScale ?? 1;
  const limits = limitsFor(BACKENDS[first], timeScale);
  await mkdir(evidence, { recursive: true });
  const scratch = await dir({ prefix: 'levelgate-cell-', unsafeCleanup: true });
  try {
    const [repos, programs] = await Promise.all([env.catalog.resolve(cell.scenario, DRIVER_FORMAT[cell.driver]), env.catalog.programsOf(cell.scenario)]);
    const sessionRequest: SessionRequest = {
      firstAccel: first,
      target: cell.target,
      accelAt: (level) => accelAt(level).accel!,
      bootTimeoutMs: (accel) => limitsFor(BACKENDS[accel], timeScale).bootMs,
      stretch: timeScale,
      evidenceDir: evidence,
      scratch: scratch.path,
      ...(env.signal ? { signal: env.signal } : {}),
      ...(env.shell ? { shell: true } : {}),
      onGuest: (guest) => env.hooks?.onGuest?.(cell, guest),
    };
    session = await env.guests.open(sessionRequest);
    await session.start(cell.level);
    const program = {
      cellId: cell.id,
      scenario: cell.scenario,
      level: cell.level,
      target: cell.target,
      driver,
      repos,
      programs: programs.programs,
      inPlay: programs.inPlay,
      limits: {
        commandMs: env.limits?.commandMs ?? limits.commandMs,
        programMs: env.limits?.programMs ?? limits.programMs,
      },
    };
    await interpret(
      program,
      session,
      transcript,
      {
        onStepStart: (index, title) => env.hooks?.onStepStart?.(cell, index, title),
        onStepEnd: (step) => env.hooks?.onStepEnd?.(cell, step),
        onCommand: (command) => env.hooks?.onCommand?.(cell, command),
        onOutput: (chunk, stream) => env.hooks?.onOutput?.(cell, chunk, stream),
        onForensics: (line) => env.hooks?.onForensics?.(cell, line),
      },
    );
    if (transcript.forensics.length) attachments.push(await writeForensics(evidence, transcript.forensics));
    if (env.installAudit) {
      const audited = await auditInstalls(transcript.steps, await env.catalog.packageFiles(cell.scenario, DRIVER_FORMAT[cell.driver]), env.installAudit, transcript.forensics);
      transcript.steps.splice(0, transcript.steps.length, ...audited);
    }
    const judged = judgeCell(transcript.steps, live);
    transcript.steps.splice(0, transcript.steps.length, ...judged.steps);
    // The canaries measured what the accelerator was expected to give: a guest that did not trap fails the requirement.
    const untrapped = mustTrap ? didNotTrap(session.proofs, cell.target.name, mustTrap) : undefined;
    if (untrapped) return finish('error', untrapped);
    if (session.guest && env.hooks?.beforeTeardown) await env.hooks.beforeTeardown(cell, session.guest);
    // Stopped while the guest was kept (repro --keep, Ctrl-C): the verdict stands; no replay.
    if (env.signal?.aborted) return finish(judged.verdict, judged.reason, { knownIssues: judged.knownIssues });
    // A solver that got it wrong (fail, or a known shortfall): a reproducer with the solver's own test case.
    const failing = judged.verdict === 'fail' || judged.verdict === 'xfail' ? firstSolverFailure(transcript.steps) : undefined;
    if (failing && driver.solver) {
      await session.dispose();
      const replay: Transcript = { steps: [], forensics: [], packageManagerMs: 0, programMs: 0 };
      let replayProblem: string | undefined;
      const replayScratch = path.join(scratch.path, 'replay');
      await mkdir(replayScratch, { recursive: true });
      const replaySession = await env.guests.open({ ...sessionRequest, evidenceDir: path.join(evidence, 'replay'), scratch: replayScratch, onGuest: () => {} });
      try {
        await mkdir(path.join(evidence, 'replay'), { recursive: true });
        await replaySession.start(cell.level);
        await interpret(program, replaySession, replay, {}, { solverCaseAt: failing.index });
      } catch (error) {
        if (error instanceof InterruptedError || env.signal?.aborted) throw error;
        // The reproducer goes without the solver's test case, saying why; the cell's verdict stands.
        replayProblem = errorMessage(error);
      } finally {
        await replaySession.dispose();
      }
      const issues = live.filter((i) => judged.knownIssues.some((k) => k.id === i.id));
      attachments.push(
        await writeReproducer(evidence, {
          cellId: cell.id,
          scenario: cell.scenario,
          level: cell.level,
          steps: transcript.steps,
          issues,
          catalog: env.catalog,
          format: DRIVER_FORMAT[cell.driver],
          failingStep: failing.index,
          ...(replay.solverCase ? { solverCase: replay.solverCase } : {}),
          ...(replayProblem ? { problem: replayProblem } : {}),
        }),
      );
    }
    return finish(judged.verdict, judged.reason, { knownIssues: judged.knownIssues });
  } catch (error) {
    if (error instanceof InterruptedError || env.signal?.aborted) return finish('error', INTERRUPTED);
    // The product failed: the cell fails with the step that shows it, whatever the known issues say.
    if (error instanceof ProductFailure) {
      if (error.details) attachments.push(await writeDetails(evidence, error));
      transcript.steps.splice(0, transcript.steps.length, ...judgeCell(transcript.steps, live).steps);
      return finish('fail', error.message);
    }
    const errorSource = errorSourceOf(error);
    // The first guest of a near miss whose init dies: the image cannot run on that CPU (a cold boot; snapshots find it in prepare).
    const cannot = (session?.proofs.length ?? 0) === 0 ? imageCannotRun(cell.target, first, error) : undefined;
    if (cannot) return env.requireLevels ? finish('error', `${cell.target.name} is required (--require-levels) but ${cannot}`) : finish('skip', cannot);
    if (error instanceof CellError) {
      if (error.details) attachments.push(await writeDetails(evidence, error));
      return finish('error', error.message, { errorSource });
    }
    const detail = error instanceof LevelgateError ? error.describe() : errorMessage(error);
    const [headline, ...rest] = detail.split('\n');
    if (rest.length) attachments.push(await writeDetails(evidence, { message: headline ?? '', details: rest.join('\n') }));
    return finish('error', headline ?? detail, { errorSource });
  } finally {
    await session?.dispose().catch(() => {});
    await scratch.cleanup();
  }
}

function factsOf(session: CellSession, image: ImageInfo, driver: string, target: string): CellFacts {
  const distribution = image.distribution;
  return {
    ...session.facts!,
    target,
    imageDigest: image.digest,
    kernel: image.kernel,
    packageManager: distribution?.packageManagers[driver] ?? (DRIVER_PACKAGES[driver] ?? []).map((p) => `${p} ${image.packages[p] ?? '?'}`).join(', '),
    ...(distribution ? { image: { name: distribution.name, os: distribution.os, glibc: distribution.glibc } } : {}),
  };
}

/** The full forensics records of the cell's SIGILLs, for the evidence. */
async function writeForensics(evidence: string, records: readonly ForensicsRecord[]): Promise<string> {
  const file = path.join(evidence, 'forensics.json');
  await writeFile(file, `${JSON.stringify(records, null, 2)}\n`);
  return file;
}

async function writeDetails(evidence: string, error: { message: string; details?: string }): Promise<string> {
  const file = path.join(evidence, 'error.txt');
  await writeFile(file, `${error.message}\n\n${error.details ?? ''}\n`);
  return file;
}
