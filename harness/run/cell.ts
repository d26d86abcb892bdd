// Runs one cell (scenario × level × driver) in real guests and turns what happened into
// a verdict with its evidence. The steps run in the interpreter; this module provides
// the guests, the repositories and the known issues, and decides the verdict: the
// product's failure (a crash, a broken contract, a hang) is a fail; an error says
// whether the emulator (retried) or the harness (not retried) failed.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dir } from 'tmp-promise';
import type { Placed, Placement, Placer } from '../accel/placement.js';
import type { RequiredFidelity } from '../accel/fidelity.js';
import { exactTarget } from '../levels/targets.js';
import { cannotTrap, didNotTrap, trapRequirement } from './fidelity-rule.js';
import { levelgateCommand } from '../util/invocation.js';
import type { PackageDriver } from '../drivers/driver.js';
import { DRIVERS } from '../drivers/index.js';
import { factDetectors } from '../drivers/detectors.js';
import type { ForensicsRecord } from '../model/forensics-record.js';
import type { AgentGuest } from '../guest/agent-guest.js';
import type { LevelName } from '../levels/table.js';
import { issuesCovering, refOf, type KnownIssue } from '../plan/known-issues.js';
import { cellRef, type Cell } from '../plan/plan.js';
import { DRIVER_FORMAT, type DriverName } from '../model/package-manager.js';
import type { RepoCatalog } from '../repos/catalog.js';
import type { CellFacts, CellResult, StepRecord, Verdict } from '../results/types.js';
import { errorMessage, GuestError, InitKilledError, InterruptedError, LevelgateError } from '../util/errors.js';
import type { InstallAuditor } from '../audit/install-auditor.js';
import { auditInstalls } from './install-audit.js';
import { interpret, levelsVisited } from './interpreter.js';
import { CellError, ProductFailure, type CellProgram, type InterpreterHooks, type Transcript } from './program.js';
import { imageCannotRun, type CellGuests, type CellSession, type SessionRequest } from './session.js';
import { firstSolverFailure, solverCaseKey, storedSolverCase, storeSolverCase, writeReproducer } from './reproducer.js';
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
  /** Where each CPU target (by name: "v3", "v3-fma") the cell may boot at runs: its backend and limits, resolved once for the run. */
  readonly placement: Placer;
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

/** One attempt of a cell as it runs: what its phases share. */
interface Attempt {
  readonly cell: Cell;
  readonly env: CellEnvironment;
  readonly started: number;
  /** The live known issues covering the cell, and the expired ones (listed in every report). */
  readonly live: readonly KnownIssue[];
  readonly expired: readonly KnownIssue[];
  readonly transcript: Transcript;
  readonly evidence: string;
  readonly attachments: string[];
  session?: CellSession;
  firstAccel?: string;
  /** Time spent making the reproducer of a solver's failure. */
  reproducerMs: number;
}

/** How an attempt ended: its verdict, the reason, and when (the timings end there, before teardown). */
interface Ending {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly extra?: Partial<CellResult>;
  readonly atMs: number;
}

const ending = (verdict: Verdict, reason: string, extra: Partial<CellResult> = {}): Ending => ({ verdict, reason, extra, atMs: performance.now() });

/** Where the cell runs: the accelerator of every level it boots at, the trap requirement, or why it cannot run. */
interface CellPlacement {
  readonly levels: readonly LevelName[];
  readonly accelAt: (level: LevelName) => Placement;
  readonly first: Placed;
  /** The flag that requires guests that trap (--require-fidelity traps, --require-levels), if any. */
  readonly mustTrap: string | undefined;
}

export async function runCell(cell: Cell, env: CellEnvironment): Promise<CellResult> {
  const attempt = startAttempt(cell, env);
  const placed = place(attempt);
  if (!('first' in placed)) return resultOf(attempt, placed);
  attempt.firstAccel = placed.first.accel;
  await mkdir(attempt.evidence, { recursive: true });
  const scratch = await dir({ prefix: 'levelgate-cell-', unsafeCleanup: true });
  let end: Ending;
  try {
    end = await runPlaced(attempt, placed, scratch.path);
  } catch (error) {
    end = await failureEnding(attempt, placed, error);
  } finally {
    await teardown(attempt);
    await scratch.cleanup();
  }
  return resultOf(attempt, end);
}

function startAttempt(cell: Cell, env: CellEnvironment): Attempt {
  const { live, expired } = issuesCovering({ scenario: cell.scenario.id, level: cell.level, target: cell.target.name, driver: cell.driver }, env.knownIssues, env.today);
  return {
    cell,
    env,
    started: performance.now(),
    live,
    expired,
    transcript: { steps: [], forensics: [], packageManagerMs: 0, programMs: 0 },
    evidence: attemptEvidenceDir(path.join(env.evidenceDir, cell.id.replace(/[^\w.-]+/g, '_')), env.attempt ?? 1),
    attachments: [],
    reproducerMs: 0,
  };
}

/**
 * Every level the cell boots at must be available, or the cell is a skip (an error
 * when levels are required). A disk stays with backends of its format (a Bochs
 * redolog boots only in Bochs, which runs every level); each boot proves its level.
 * Boots at the level the cell's CPU meets are on that CPU again (a reboot of a near miss).
 * A cell that must trap does not boot where the accelerator only masks CPUID (KVM at v1, v2...).
 */
function place({ cell, env }: Attempt): CellPlacement | Ending {
  const startedOn = env.placement.at(cell.target.name);
  const accelAt = (at: LevelName): Placement => {
    if (at === cell.level) return startedOn;
    const choice = env.placement.at(at);
    if (!startedOn.accel || (choice.accel && choice.backend.diskFormat === startedOn.backend.diskFormat)) return choice;
    return { ...startedOn, target: at, why: `the disk stays with ${startedOn.backend.title}, which made it` };
  };
  const noDriver = env.driverUnavailable?.(cell.driver);
  if (noDriver) return ending('skip', noDriver);
  let levels: LevelName[];
  try {
    levels = levelsVisited(cell.scenario, cell.level);
  } catch (error) {
    return ending('error', errorMessage(error));
  }
  for (const level of levels) {
    const choice = accelAt(level);
    if (choice.accel !== null) continue;
    const why = level === cell.level ? choice.skipReason : `the scenario moves the disk to ${level}: ${choice.skipReason}`;
    return env.requireLevels ? ending('error', `level ${level === cell.level ? cell.target.name : level} is required (--require-levels) but ${why}`) : ending('skip', why);
  }
  const mustTrap = trapRequirement(env);
  for (const level of mustTrap ? levels : []) {
    const why = cannotTrap(level === cell.level ? cell.target : exactTarget(level), accelAt(level) as Placed, mustTrap!);
    if (why) return ending('error', why);
  }
  return { levels, accelAt, first: startedOn as Placed, mustTrap };
}

/** The placed cell, run: guests prepared (restored or booted, level proven), the steps, the verdict and its evidence. */
async function runPlaced(attempt: Attempt, placed: CellPlacement, scratch: string): Promise<Ending> {
  const { cell, env, transcript, live } = attempt;
  const { request, program } = await prepare(attempt, placed, scratch);
  const session = await env.guests.open(request);
  attempt.session = session;
  await session.start(cell.level);
  await interpret(program, session, transcript, interpreterHooks(cell, env.hooks));
  const judged = await judge(attempt);
  // The canaries measured what the accelerator was expected to give: a guest that did not trap fails the requirement.
  const untrapped = placed.mustTrap ? didNotTrap(session.proofs, cell.target.name, placed.mustTrap) : undefined;
  if (untrapped) return ending('error', untrapped);
  if (session.guest && env.hooks?.beforeTeardown) await env.hooks.beforeTeardown(cell, session.guest);
  // Stopped while the guest was kept (repro --keep, Ctrl-C): the verdict stands; no replay.
  if (env.signal?.aborted) return ending(judged.verdict, judged.reason, { knownIssues: judged.knownIssues });
  // A solver that got it wrong (fail, or a known shortfall): a reproducer with the solver's own test case.
  const failing = judged.verdict === 'fail' || judged.verdict === 'xfail' ? firstSolverFailure(transcript.steps) : undefined;
  if (failing && program.driver.solver) {
    const started = performance.now();
    await session.dispose();
    const issues = live.filter((i) => judged.knownIssues.some((k) => k.id === i.id));
    attempt.attachments.push(await reproducerOf(attempt, { request, program, scratch }, failing.index, issues, judged.verdict === 'xfail'));
    attempt.reproducerMs = performance.now() - started;
  }
  return ending(judged.verdict, judged.reason, { knownIssues: judged.knownIssues });
}

/** The cell's repositories, programs and limits, and the request its guests are opened with. */
async function prepare({ cell, env, evidence }: Attempt, placed: CellPlacement, scratch: string): Promise<{ request: SessionRequest; program: CellProgram }> {
  const driver = (env.drivers ?? DRIVERS)[cell.driver];
  const { limits } = placed.first;
  const [repos, programs] = await Promise.all([env.catalog.resolve(cell.scenario, DRIVER_FORMAT[cell.driver]), env.catalog.programsOf(cell.scenario)]);
  const request: SessionRequest = {
    firstAccel: placed.first.accel,
    target: cell.target,
    accelAt: (level) => placed.accelAt(level).accel!,
    bootMs: env.placement.bootMs(),
    evidenceDir: evidence,
    // The facts ask live what the cell's tools and the CPU answer; a scenario that detects, every detector.
    detectors: factDetectors(cell.driver, cell.scenario.steps.some((s) => s.action.kind === 'detect')),
    scratch,
    ...(env.signal ? { signal: env.signal } : {}),
    ...(env.shell ? { shell: true } : {}),
    onGuest: (guest) => env.hooks?.onGuest?.(cell, guest),
  };
  const program: CellProgram = {
    cellId: cell.id,
    scenario: cell.scenario,
    level: cell.level,
    target: cell.target,
    driver,
    repos,
    programs: programs.programs,
    inPlay: programs.inPlay,
    limits: { commandMs: limits.commandMs, programMs: limits.programMs },
  };
  return { request, program };
}

function interpreterHooks(cell: Cell, hooks: CellHooks | undefined): InterpreterHooks {
  return {
    onStepStart: (index, title) => hooks?.onStepStart?.(cell, index, title),
    onStepEnd: (step) => hooks?.onStepEnd?.(cell, step),
    onCommand: (command) => hooks?.onCommand?.(cell, command),
    onOutput: (chunk, stream) => hooks?.onOutput?.(cell, chunk, stream),
    onForensics: (line) => hooks?.onForensics?.(cell, line),
  };
}

/** The steps judged: forensics kept, installs audited (gate --audit), known issues applied. */
async function judge({ cell, env, transcript, evidence, attachments, live }: Attempt): Promise<ReturnType<typeof judgeCell>> {
  if (transcript.forensics.length) attachments.push(await writeForensics(evidence, transcript.forensics));
  if (env.installAudit) {
    const audited = await auditInstalls(transcript.steps, await env.catalog.packageFiles(cell.scenario, DRIVER_FORMAT[cell.driver]), env.installAudit, transcript.forensics);
    transcript.steps.splice(0, transcript.steps.length, ...audited);
  }
  const judged = judgeCell(transcript.steps, live);
  transcript.steps.splice(0, transcript.steps.length, ...judged.steps);
  return judged;
}

/**
 * The reproducer of a solver's failure: the steps replayed in a fresh guest up to the
 * failing one, whose solver writes its own test case. A replay that fails leaves the
 * reproducer without the test case, saying why; the cell's verdict stands.
 */
async function reproducerOf(attempt: Attempt, run: { request: SessionRequest; program: CellProgram; scratch: string }, failingStep: number, issues: readonly KnownIssue[], expected: boolean): Promise<string> {
  const { cell, env, evidence, transcript } = attempt;
  const replay: Transcript = { steps: [], forensics: [], packageManagerMs: 0, programMs: 0 };
  let replayProblem: string | undefined;
  // An expected failure reuses the test case an earlier run made for the same inputs: the replay is the cell once more.
  const format = DRIVER_FORMAT[cell.driver];
  const caseKey = expected
    ? solverCaseKey({ cellId: cell.id, imageDigest: env.image.digest, repoDirs: Object.keys(cell.scenario.repos).map((name) => env.catalog.hostDir(cell.scenario, name, format)), steps: transcript.steps, failingStep, issues })
    : undefined;
  const stored = caseKey ? await storedSolverCase(caseKey) : undefined;
  if (stored) replay.solverCase = { ...stored, files: new Map(stored.files) };
  // A tool that writes no solver test case (apt, pacman) has nothing to replay for.
  else if (run.program.driver.solverCase) {
    const replayScratch = path.join(run.scratch, 'replay');
    await mkdir(replayScratch, { recursive: true });
    const replaySession = await env.guests.open({ ...run.request, evidenceDir: path.join(evidence, 'replay'), scratch: replayScratch, onGuest: () => {} });
    try {
      await mkdir(path.join(evidence, 'replay'), { recursive: true });
      await replaySession.start(cell.level);
      await interpret(run.program, replaySession, replay, {}, { solverCaseAt: failingStep });
    } catch (error) {
      if (error instanceof InterruptedError || env.signal?.aborted) throw error;
      replayProblem = errorMessage(error);
    } finally {
      await replaySession.dispose();
      if (caseKey && replay.solverCase) await storeSolverCase(caseKey, replay.solverCase);
    }
  }
  return writeReproducer(evidence, {
    cellId: cell.id,
    scenario: cell.scenario,
    level: cell.level,
    steps: transcript.steps,
    issues,
    catalog: env.catalog,
    format: DRIVER_FORMAT[cell.driver],
    failingStep,
    ...(replay.solverCase ? { solverCase: replay.solverCase } : {}),
    ...(replayProblem ? { problem: replayProblem } : {}),
  });
}

/** What an error ends the cell as: interrupted, the product's failure, a CPU the image cannot run on, or an error of the emulator or the harness. */
async function failureEnding(attempt: Attempt, placed: CellPlacement, error: unknown): Promise<Ending> {
  const { cell, env, transcript, evidence, attachments, live, session } = attempt;
  if (error instanceof InterruptedError || env.signal?.aborted) return ending('error', INTERRUPTED);
  // The product failed: the cell fails with the step that shows it, whatever the known issues say.
  if (error instanceof ProductFailure) {
    if (error.details) attachments.push(await writeDetails(evidence, error));
    transcript.steps.splice(0, transcript.steps.length, ...judgeCell(transcript.steps, live).steps);
    return ending('fail', error.message);
  }
  const errorSource = errorSourceOf(error);
  // The first guest of a near miss whose init dies: the image cannot run on that CPU (a cold boot; snapshots find it in prepare).
  const cannot = (session?.proofs.length ?? 0) === 0 ? imageCannotRun(cell.target, placed.first.accel, error) : undefined;
  if (cannot) return env.requireLevels ? ending('error', `${cell.target.name} is required (--require-levels) but ${cannot}`) : ending('skip', cannot);
  if (error instanceof CellError) {
    if (error.details) attachments.push(await writeDetails(evidence, error));
    return ending('error', error.message, { errorSource });
  }
  const detail = error instanceof LevelgateError ? error.describe() : errorMessage(error);
  const [headline, ...rest] = detail.split('\n');
  if (rest.length) attachments.push(await writeDetails(evidence, { message: headline ?? '', details: rest.join('\n') }));
  return ending('error', headline ?? detail, { errorSource });
}

/** Powers the cell's guests off. A teardown that fails does not change the verdict but is kept: its error goes to the evidence. */
async function teardown(attempt: Attempt): Promise<void> {
  try {
    await attempt.session?.dispose();
  } catch (error) {
    attempt.attachments.push(await writeDetails(attempt.evidence, { message: `tearing the guest down failed: ${errorMessage(error)}`, ...(error instanceof LevelgateError ? { details: error.describe() } : {}) }, 'teardown-error.txt'));
  }
}

/** The cell's result: its verdict and reason, evidence, proofs, facts and timings (up to the ending). */
function resultOf(attempt: Attempt, end: Ending): CellResult {
  const { cell, env, session, transcript } = attempt;
  const totalMs = Math.round(end.atMs - attempt.started);
  const bootMs = Math.round(session?.bootMs ?? 0);
  const packageManagerMs = Math.round(transcript.packageManagerMs);
  const programMs = Math.round(transcript.programMs);
  return {
    ...cellRef(cell),
    verdict: end.verdict,
    reason: end.reason,
    knownIssues: [],
    expiredKnownIssues: attempt.expired.map(refOf),
    coveringKnownIssues: attempt.live.map(refOf),
    ...(attempt.firstAccel ? { accel: attempt.firstAccel } : {}),
    proofs: session?.proofs ?? [],
    steps: transcript.steps,
    consoleLogs: session?.consoleLogs ?? [],
    attachments: attempt.attachments,
    ...(session?.facts ? { facts: factsOf(session, env.image, cell.driver, cell.target.name) } : {}),
    timings: {
      totalMs,
      bootMs,
      packageManagerMs,
      programMs,
      harnessMs: Math.max(0, totalMs - bootMs - packageManagerMs - programMs),
      harness: {
        detectMs: Math.round(session?.detectMs ?? 0),
        powerOffMs: Math.round(session?.powerOffMs ?? 0),
        installedQueryMs: Math.round(transcript.installedQueryMs ?? 0),
        reproducerMs: Math.round(attempt.reproducerMs),
      },
    },
    repro: reproCommand(cell, env.accelRequest, env.installAudit !== undefined),
    attempts: 1,
    flaky: false,
    ...end.extra,
  };
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

async function writeDetails(evidence: string, error: { message: string; details?: string | undefined }, name = 'error.txt'): Promise<string> {
  const file = path.join(evidence, name);
  await writeFile(file, `${error.message}\n\n${error.details ?? ''}\n`);
  return file;
}
