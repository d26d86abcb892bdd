// Runs a scenario's steps in a guest and records what happened: every command with its
// output, the installed set before and after, the programs' outcomes, and the checks.
// Every command is judged by the driver's contract: a package operation may succeed or
// be refused (a check then says whether that was right). A tool that crashes, exits
// outside its contract or hangs (killed at its time limit while the guest still
// answers), and a program that hangs, are the product's failure (ProductFailure): the
// step is recorded with a failing check and the cell fails, never retried. A repository
// that did not load or a step the driver cannot do is the harness's (CellError): the
// cell is an error. The guest is an interface, so unit tests drive this with a fake.
import type { PackageDriver, CommandPurpose, GuestCommand, Judgement, RepoRef } from '../drivers/driver.js';
import { QUERY_INSTALLED } from '../drivers/driver.js';
import type { Fidelity } from '../levels/canaries.js';
import { levelBelow, runsAt } from '../levels/arch.js';
import { levelIndex, type LevelName } from '../levels/table.js';
import { rpm as rpmDriver } from '../drivers/rpm.js';
import { explainCommand } from '../forensics/explain-command.js';
import type { ForensicsRecord } from '../forensics/record.js';
import { detectionCommand, parseDetection, type DetectorReading } from '../levels/detectors.js';
import type { CpuTarget } from '../levels/targets.js';
import type { AvailablePackage } from '../repos/available.js';
import { parseNevra } from '../repos/available.js';
import type { CheckResult, CommandRecord, StepRecord } from '../results/types.js';
import { evaluate, type Observation, type Outcome, type ProgramRun } from '../scenario/evaluate.js';
import { expectContextOf, stepTitle, type Expectation, type ExpectContext, type Scenario, type Step, type StepAction } from '../scenario/types.js';
import { quoteCommand } from '../util/quote.js';

/** A command's ending, whatever the backend. */
export interface ExecResult {
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly spawnFailed: boolean;
  readonly stdout: string;
  /** The same output, undecoded (when the backend has it). */
  readonly stdoutBytes?: Buffer;
  readonly stderr: string;
  readonly durationMs: number;
  readonly consoleEvents: readonly { readonly kind: string; readonly line: string }[];
}

/** A command's run as results keep it, with each SIGILL it met explained in one line. */
export function commandRecord(result: ExecResult, role: CommandRecord['role'], forensics: readonly string[]): CommandRecord {
  return {
    command: result.command,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    stdout: result.stdout,
    stderr: result.stderr,
    durationMs: result.durationMs,
    consoleEvents: result.consoleEvents.map((e) => `${e.kind}: ${e.line}`),
    ...(forensics.length ? { forensics } : {}),
    role,
  };
}

export interface CellExecOptions {
  readonly input?: string;
  /** Environment variables added for this command. */
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly onStdout?: (chunk: Buffer) => void;
  readonly onStderr?: (chunk: Buffer) => void;
}

/** What the interpreter needs of a guest. */
export interface CellGuest {
  readonly level: LevelName;
  readonly fidelity: Fidelity;
  exec(argv: readonly string[], options: CellExecOptions): Promise<ExecResult>;
}

/** The cell's one disk, booted at one level at a time. */
export interface GuestSession {
  /** The running guest. */
  current(): CellGuest;
  /** Powers the guest off (cleanly) and boots the same disk at `level`. */
  bootAt(level: LevelName): Promise<CellGuest>;
  /** The installed set the first guest starts with, when known without a query (a snapshot's). */
  readonly initialInstalled?: readonly string[];
}

/** An infrastructure failure inside a cell: ends it as an error, with what to look at. */
export class CellError extends Error {
  constructor(
    message: string,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'CellError';
  }
}

/**
 * The product failed: a tool crashed, exited outside its contract or hung while the
 * guest still answered, or a program hung. Fails the cell (no known issue explains it,
 * no retry repeats it); `check` is the failing check recorded on the step.
 */
export class ProductFailure extends Error {
  constructor(
    message: string,
    readonly check: CheckResult,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'ProductFailure';
  }
}

/** A command that hung: killed at its time limit while the guest still answered. */
function hung(where: string, what: string, subject: string, limitMs: number, result: ExecResult): ProductFailure {
  const limit = `${Math.round(limitMs / 1000)} s`;
  return new ProductFailure(`${where}: ${what} hung: it did not finish within ${limit} and was killed (the guest still answered)`, {
    kind: 'outcome',
    subject,
    check: `${what} finishes`,
    expected: `ends within ${limit}`,
    actual: `killed after ${limit} (hung)`,
    status: 'fail',
    deviation: 'hung',
  }, `${result.stdout}\n${result.stderr}`.trim());
}

/** How to run a program the checks name, and what it must print. */
export interface ProgramSpec {
  readonly path: string;
  readonly args: readonly string[];
  /** A fixture program prints "NAME EVR ARCH" of its package: given the installed NEVRA, what it must print. */
  readonly identity?: (installed: AvailablePackage) => string;
  /** The package that ships it. */
  readonly packageName: string;
  /**
   * A shared library, not a program: the dynamic loader looks `soname` up (with `dir` on
   * its search path, glibc-hwcaps subdirectories included) and loads the copy it selects
   * into /bin/true, running its initialisers. `path` is one copy, for messages.
   */
  readonly library?: { readonly soname: string; readonly dir: string };
}

const LDSO = '/lib64/ld-linux-x86-64.so.2';
/** "libfoo.so.1 => /usr/lib64/glibc-hwcaps/x86-64-v3/libfoo.so.1 (0x…)" in `ld.so --list`. */
const selectedCopy = (stdout: string, soname: string): string | undefined =>
  new RegExp(`^\\s*${soname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} => (\\S+)`, 'm').exec(stdout)?.[1];
/** The level a library copy needs: its glibc-hwcaps directory's, else its package's arch's. */
const copyLevelOk = (copy: string, owner: AvailablePackage | undefined, level: LevelName): boolean => {
  const dir = /\/glibc-hwcaps\/x86-64-(v[234])\//.exec(copy)?.[1] as LevelName | undefined;
  return dir ? levelIndex(dir) <= levelIndex(level) : !owner || runsAt(owner.arch, level);
};

/** A repository as the steps see it: where it is in the guest and what it offers. */
export interface ResolvedRepo {
  /** The id the package manager uses. */
  readonly id: string;
  /** Path in the guest; $releasever is left for the tool to expand. */
  readonly guestPath: string;
  /** What it offers, from its metadata, for a value of $releasever. */
  readonly packages: (releasever: string | undefined) => readonly AvailablePackage[];
  /** An apt repository's suite and components. */
  readonly apt?: { readonly suite: string; readonly components: readonly string[] };
}

export interface CellProgram {
  readonly cellId: string;
  readonly scenario: Scenario;
  readonly level: LevelName;
  /** The CPU the cell starts on (`level` is the level it meets). */
  readonly target: CpuTarget;
  readonly driver: PackageDriver;
  /** Repositories by the name the scenario uses ($releasever left in). */
  readonly repos: ReadonlyMap<string, ResolvedRepo>;
  /** Programs by name; names of packages in play (every package of the scenario's repositories). */
  readonly programs: (name: string) => readonly ProgramSpec[];
  readonly inPlay: ReadonlySet<string>;
  /** Limits: package-manager commands, queries and programs. */
  readonly limits: { readonly commandMs: number; readonly programMs: number };
}

export interface InterpreterHooks {
  readonly onStepStart?: (index: number, title: string) => void;
  readonly onStepEnd?: (step: StepRecord) => void;
  readonly onCommand?: (command: string) => void;
  readonly onOutput?: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  /** A SIGILL explained: the one line of its forensics record. */
  readonly onForensics?: (line: string) => void;
}

export interface Transcript {
  readonly steps: StepRecord[];
  /** The solver's test case of one step, when asked for (InterpretOptions.solverCaseAt): file name → content. */
  solverCase?: { readonly step: number; readonly tool: string; readonly files: Map<string, Buffer> };
  /** Every SIGILL the cell's commands met, explained (forensics records). */
  readonly forensics: ForensicsRecord[];
  /** Time spent in package-manager commands and in programs the checks ran. */
  packageManagerMs: number;
  programMs: number;
}

/** The level a move-to step boots at. */
export function moveTarget(from: LevelName, to: LevelName | 'one-below'): LevelName {
  if (to !== 'one-below') return to;
  const below = levelBelow(from);
  if (!below) throw new CellError(`cannot move the disk one level below ${from}: there is none`);
  return below;
}

/** Every level a scenario's guest boots at, starting from `level`. */
export function levelsVisited(scenario: Scenario, level: LevelName): LevelName[] {
  const levels = [level];
  for (const step of scenario.steps) if (step.action.kind === 'move-to') levels.push(moveTarget(levels.at(-1)!, step.action.level));
  return levels;
}

const expand = (name: string, releasever: string | undefined) => (releasever === undefined ? name : name.replaceAll('$releasever', releasever));

export interface InterpretOptions {
  /**
   * Replay for a reproducer: run the steps up to this one, run its solver command so
   * that the tool writes its own test case, collect it into the transcript, and stop.
   */
  readonly solverCaseAt?: number;
}

const SOLVER_CASE_DIR = '/var/tmp/levelgate-solver-case';

/** Runs the steps; throws CellError on an infrastructure failure (the transcript so far stays in `transcript`). */
export async function interpret(program: CellProgram, session: GuestSession, transcript: Transcript, hooks: InterpreterHooks = {}, options: InterpretOptions = {}): Promise<void> {
  const { scenario, driver } = program;
  let guest = session.current();
  let releasever = scenario.releasever;
  let enabled: string[] = [];
  // A snapshot records rpm's installed set: the start of a cell of an rpm-database driver only.
  let installedNow: string[] | undefined = session.initialInstalled && driver.installedQuery === QUERY_INSTALLED ? [...session.initialInstalled] : undefined;
  /** Variables every command runs with from a set-env step on. */
  let env: Record<string, string> = {};
  const context = expectContextOf(program.target, driver.name);

  for (const [i, step] of scenario.steps.entries()) {
    const index = i + 1;
    const title = stepTitle(step.action);
    hooks.onStepStart?.(index, title);
    const commands: CommandRecord[] = [];

    const run = async (command: GuestCommand, role: CommandRecord['role'], timeoutMs: number) => {
      hooks.onCommand?.(quoteCommand(command.argv));
      const result = await guest.exec(command.argv, {
        timeoutMs,
        ...(Object.keys(env).length ? { env } : {}),
        ...(command.input !== undefined ? { input: command.input } : {}),
        ...(hooks.onOutput ? { onStdout: (c: Buffer) => hooks.onOutput!(c, 'stdout'), onStderr: (c: Buffer) => hooks.onOutput!(c, 'stderr') } : {}),
      });
      // Every SIGILL explains itself: the instruction, its file and package, the level it needs.
      const records = await explainCommand(
        { argv: command.argv, stderr: result.stderr, consoleLines: result.consoleEvents.filter((e) => e.kind === 'illegal-instruction').map((e) => e.line) },
        { exec: (argv) => guest.exec(argv, { timeoutMs: program.limits.commandMs }), level: guest.level, fidelity: guest.fidelity },
      );
      transcript.forensics.push(...records);
      for (const r of records) hooks.onForensics?.(r.line);
      commands.push(commandRecord(result, role, records.map((r) => r.line)));
      if (role === 'program') transcript.programMs += result.durationMs;
      else if (role !== 'query' || command !== driver.installedQuery) transcript.packageManagerMs += result.durationMs;
      return { ...result, forensics: records.map((r) => r.line) };
    };
    /** The installed set before this step, once known. */
    let before: readonly string[] | undefined = installedNow;
    /** The product failed in this step: the step so far is the evidence, with the failing check; the cell ends here. */
    const failed = (error: unknown): never => {
      if (error instanceof ProductFailure) {
        const record: StepRecord = { index, title, action: actionName(step.action), level: guest.level, commands, installedBefore: before ?? [], installedAfter: installedNow ?? before ?? [], checks: [error.check] };
        transcript.steps.push(record);
        hooks.onStepEnd?.(record);
      }
      throw error;
    };
    /** A tool command's ending under its contract (a hang or a broken contract fails the step, a harness problem is a CellError). */
    const ending = (result: ExecResult, judgement: Judgement): Judgement => {
      try {
        return judgeEnding(`step ${index} (${title})`, result, judgement, program.limits.commandMs);
      } catch (error) {
        return failed(error);
      }
    };
    /** Runs a tool command and judges it. */
    const tool = async (command: GuestCommand, purpose: CommandPurpose): Promise<{ result: ExecResult; judged: Judgement }> => {
      const result = await run(command, purpose === 'operation' ? 'action' : purpose === 'configure' || purpose === 'refresh' ? 'setup' : 'query', program.limits.commandMs);
      return { result, judged: ending(result, driver.judge(purpose, result)) };
    };
    const queryInstalled = async () => driver.parseInstalled((await tool(driver.installedQuery, 'query')).result.stdout);
    const available = (): AvailablePackage[] => enabled.flatMap((name) => [...(program.repos.get(name)?.packages(releasever) ?? [])]);
    const refsOf = (names: readonly string[]): RepoRef[] =>
      names.map((name) => {
        const repo = program.repos.get(name)!;
        return { id: repo.id, path: repo.guestPath, ...(repo.apt ? { apt: repo.apt } : {}) };
      });
    /** The tool must see exactly what each enabled repository's metadata lists. */
    const verifyRepos = async () => {
      if (!driver.solver || enabled.length === 0) return;
      const view = driver.parseRepoView((await tool(driver.repoView(releasever), 'repo-view')).result.stdout, refsOf(enabled));
      for (const name of enabled) {
        const repo = program.repos.get(name)!;
        const want = new Set(repo.packages(releasever).map((p) => `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`));
        const seen = new Set(view.get(repo.id) ?? []);
        if (seen.size === 0 && want.size > 0) {
          const stderr = commands.at(-1)?.stderr.trim().split('\n').filter(Boolean).slice(-4).join(' | ');
          throw new CellError(`step ${index} (${title}): repository ${name} (${repo.id}) did not load: ${driver.name} sees none of its ${want.size} packages${stderr ? `; it said: ${stderr}` : ''}`);
        }
        // A tool may hide builds of arches it does not take on this CPU (libzypp drops
        // them from its pool as it loads): only the builds the driver always shows must all show.
        const missing = [...want].filter((p) => !seen.has(p) && driver.alwaysShows(p.slice(p.lastIndexOf('.') + 1)));
        const extra = [...seen].filter((p) => !want.has(p));
        if (missing.length || extra.length) {
          throw new CellError(
            `step ${index} (${title}): ${driver.name}'s view of repository ${name} (${repo.id}) differs from its metadata: ` +
              `${missing.length ? `missing ${missing.slice(0, 5).join(' ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.slice(0, 5).join(' ')}` : ''}`,
          );
        }
      }
    };

    /** In a replay, the step whose solver test case is wanted: the tool writes it, it is collected, and the replay ends. */
    const solverCase = async (command: GuestCommand): Promise<boolean> => {
      if (options.solverCaseAt !== index) return false;
      const variant = driver.solverCase(command, SOLVER_CASE_DIR);
      if (!variant) return false;
      await tool(variant.command, 'operation');
      const listing = await tool({ argv: ['find', variant.testcaseDir, '-maxdepth', '1', '-type', 'f', '-printf', '%f\\n'] }, 'query');
      const files = new Map<string, Buffer>();
      for (const name of listing.result.stdout.split('\n').filter(Boolean)) {
        const read = await tool({ argv: ['cat', `${variant.testcaseDir}/${name}`] }, 'query');
        files.set(name, read.result.stdoutBytes ?? Buffer.from(read.result.stdout));
      }
      transcript.solverCase = { step: index, tool: driver.name, files };
      return true;
    };

    const installedBefore = installedNow ?? (await queryInstalled());
    before = installedBefore;
    let outcome: Outcome | undefined;
    let updates: string[] | undefined;
    let detectors: DetectorReading[] | undefined;
    let changesInstalled = true;
    const judgeOutcome = (judged: Judgement): Outcome => (judged.kind === 'refused' ? { kind: 'refused', reason: judged.reason, message: judged.message } : { kind: 'ok' });

    const action: StepAction = step.action;
    switch (action.kind) {
      case 'repos': {
        changesInstalled = false;
        enabled = action.use.map((name) => resolveRepoName(program, name, releasever, index, title));
        const { commands: setup, refresh } = driver.configureRepos(refsOf(enabled), releasever);
        for (const command of setup) await tool(command, 'configure');
        if (refresh) await tool(refresh, 'refresh');
        await verifyRepos();
        break;
      }
      case 'operation': {
        const command = driver.operation(action.op, action.packages, releasever);
        if (!command) throw new CellError(`step ${index} (${title}): ${driver.name} has no ${action.op} operation`);
        if (await solverCase(command)) return;
        outcome = judgeOutcome((await tool(command, 'operation')).judged);
        break;
      }
      case 'install-file': {
        const repo = program.repos.get(resolveRepoName(program, action.repo, releasever, index, title))!;
        const file = `${expand(repo.guestPath, releasever)}/${action.file}`;
        if (action.rpmFlags) {
          // By hand with rpm, whatever the driver: judged by rpm's own contract.
          const result = await run({ argv: ['rpm', '-i', ...action.rpmFlags, file] }, 'action', program.limits.commandMs);
          outcome = judgeOutcome(ending(result, rpmDriver.judge('operation', result)));
          break;
        }
        const command = driver.installFile(file);
        if (await solverCase(command)) return;
        outcome = judgeOutcome((await tool(command, 'operation')).judged);
        break;
      }
      case 'set-env': {
        changesInstalled = false;
        env = { ...env, ...action.vars };
        break;
      }
      case 'override-arch': {
        changesInstalled = false;
        const commands = driver.overrideArch(action.arch);
        if (!commands) throw new CellError(`step ${index} (${title}): ${driver.name} has no arch override to ${action.arch}; run the scenario with drivers that have one (zypper, rpm, apt, pacman)`);
        for (const command of commands) await tool(command, 'configure');
        break;
      }
      case 'release-upgrade': {
        releasever = action.releasever;
        for (const name of enabled) resolveRepoName(program, name, releasever, index, title);
        const command = driver.releaseUpgrade(releasever);
        if (!command) throw new CellError(`step ${index} (${title}): ${driver.name} has no release upgrade`);
        // The repositories of the new release must load before the upgrade reads them.
        const { refresh } = driver.configureRepos(refsOf(enabled), releasever);
        if (refresh) await tool(refresh, 'refresh');
        await verifyRepos();
        if (await solverCase(command)) return;
        outcome = judgeOutcome((await tool(command, 'operation')).judged);
        break;
      }
      case 'list-updates': {
        changesInstalled = false;
        const command = driver.listUpdates(releasever);
        if (!command) throw new CellError(`step ${index} (${title}): ${driver.name} cannot list updates`);
        updates = driver.parseUpdates((await tool(command, 'list-updates')).result.stdout);
        break;
      }
      case 'detect': {
        changesInstalled = false;
        detectors = parseDetection((await tool(detectionCommand(), 'query')).result.stdout);
        break;
      }
      case 'pin': {
        changesInstalled = false;
        const commands = driver.pin(action.pin);
        if (!commands) throw new CellError(`step ${index} (${title}): ${driver.name} has no way to pin a package`);
        for (const command of commands) await tool(command, 'configure');
        break;
      }
      case 'move-to':
      case 'reboot': {
        const to = action.kind === 'reboot' ? guest.level : moveTarget(guest.level, action.level);
        guest = await session.bootAt(to);
        break;
      }
    }

    const installedAfter = changesInstalled ? await queryInstalled() : installedBefore;
    installedNow = installedAfter;
    const expectation: Expectation = resolveExpectation(step, context);
    const programs = await runPrograms(expectation, installedAfter, program, run, index, title, guest.level).catch(failed);
    const seen: Observation = {
      level: guest.level,
      fidelity: guest.fidelity,
      ...(outcome ? { outcome } : {}),
      installed: installedAfter,
      programs: programs.runs,
      ...(updates ? { updates } : {}),
      ...(detectors ? { detectors, detectedBy: driver.detector, detectedArch: detectors.find((r) => r.detector === driver.detector)?.answer ?? 'absent' } : {}),
      available: available(),
      runnablePrograms: programs.runnable,
      packagePrograms: programs.packagePrograms,
    };
    const checks: CheckResult[] = evaluate(expectation, seen);
    const record: StepRecord = { index, title, action: actionName(action), level: guest.level, commands, installedBefore, installedAfter, checks };
    transcript.steps.push(record);
    hooks.onStepEnd?.(record);
  }
}

const actionName = (action: StepAction): string => (action.kind === 'operation' ? action.op : action.kind);

/** A tool command's ending under its contract: a hang or a broken contract is a ProductFailure, a harness problem a CellError. */
function judgeEnding(where: string, result: ExecResult, judged: Judgement, limitMs: number): Judgement {
  if (result.timedOut) throw hung(where, `\`${result.command}\``, '', limitMs, result);
  if (result.spawnFailed) throw new CellError(`${where}: \`${result.command}\` could not start: ${result.stderr.trim()}`);
  const output = `${result.stdout}\n${result.stderr}`.trim();
  if (judged.kind === 'error') throw new CellError(`${where}: \`${result.command}\` failed: ${judged.message}`, output);
  if (judged.kind === 'broken') {
    const how = result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`;
    throw new ProductFailure(
      `${where}: \`${result.command}\` failed: ${judged.message}`,
      { kind: 'outcome', subject: '', check: `\`${result.command}\` ends within its contract`, expected: 'an ending its contract has', actual: how, status: 'fail', deviation: result.signal ? 'signal' : 'exit' },
      output,
    );
  }
  return judged;
}

function resolveExpectation(step: Step, context: ExpectContext): Expectation {
  const source = step.expectation;
  if (!source) return {};
  return typeof source === 'function' ? source(context) : source;
}

/** The scenario's repository for NAME at this $releasever; the loader already checked that it exists. */
function resolveRepoName(program: CellProgram, name: string, releasever: string | undefined, index: number, title: string): string {
  if (!program.repos.has(name)) throw new CellError(`step ${index} (${title}): scenario ${program.scenario.id} has no repository ${name}`);
  const repo = program.repos.get(name)!;
  if (repo.packages(releasever).length === 0 && name.includes('$releasever')) {
    throw new CellError(`step ${index} (${title}): repository ${name} has no content for releasever ${releasever}`);
  }
  return name;
}

/** Runs every program the expectation names (and, for `runnable`, every program of every installed package in play). */
async function runPrograms(
  expectation: Expectation,
  installed: readonly string[],
  program: CellProgram,
  run: (command: GuestCommand, role: CommandRecord['role'], timeoutMs: number) => Promise<ExecResult & { forensics: readonly string[] }>,
  index: number,
  title: string,
  level: LevelName,
): Promise<{ runs: Record<string, ProgramRun>; runnable: string[]; packagePrograms: Record<string, string[]> }> {
  const installedPackages = installed.map((t) => parseNevra(t)).filter((p): p is AvailablePackage => p !== undefined);
  const byName = new Map(installedPackages.map((p) => [p.name, p]));
  const wanted = new Map<string, ProgramSpec>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    const specs = program.programs(name);
    wanted.set(name, specs[0] ?? { path: `/usr/bin/${name}`, args: [], packageName: name });
  };
  for (const name of [...(expectation.runs ?? []), ...(expectation.dies ?? []), ...Object.keys(expectation.loads ?? {})]) add(name);
  const packagePrograms: Record<string, string[]> = {};
  for (const name of expectation.runsPackage ?? []) {
    packagePrograms[name] = [];
    if (!byName.has(name)) continue;
    for (const spec of program.programs(name)) {
      const programName = spec.path.split('/').at(-1)!;
      if (!wanted.has(programName)) wanted.set(programName, spec);
      packagePrograms[name]!.push(programName);
    }
  }
  const runnable: string[] = [];
  if (expectation.runnable) {
    for (const p of installedPackages) {
      if (!program.inPlay.has(p.name)) continue;
      for (const spec of program.programs(p.name)) {
        const name = spec.path.split('/').at(-1)!;
        if (!wanted.has(name)) wanted.set(name, spec);
        runnable.push(name);
      }
    }
  }
  const runs: Record<string, ProgramRun> = {};
  for (const [name, spec] of wanted) {
    if (spec.library) {
      runs[name] = await loadLibrary(spec.library, byName.get(spec.packageName), level, run, program.limits.programMs, `step ${index} (${title})`);
      continue;
    }
    const result = await run({ argv: [spec.path, ...spec.args] }, 'program', program.limits.programMs);
    if (result.timedOut) throw hung(`step ${index} (${title})`, `program ${spec.path}`, spec.packageName, program.limits.programMs, result);
    const owner = byName.get(spec.packageName);
    runs[name] = {
      path: spec.path,
      exitCode: result.exitCode,
      signal: result.signal,
      missing: result.spawnFailed,
      firstLine: result.stdout.trim().split('\n')[0] ?? '',
      errorLine: result.stderr.trim().split('\n')[0] ?? '',
      ...(spec.identity && owner ? { identity: spec.identity(owner) } : {}),
      ...(result.forensics.length ? { forensics: result.forensics.join(' | ') } : {}),
    };
  }
  return { runs, runnable: [...new Set(runnable)].sort(), packagePrograms };
}

/**
 * A library "runs" when the dynamic loader, asked for its soname, selects a copy the
 * CPU's level allows and loads it into a program (its initialisers and IFUNC resolvers
 * run): `ld.so --list` says which copy, `ld.so --preload COPY /bin/true` loads it.
 */
async function loadLibrary(
  library: NonNullable<ProgramSpec['library']>,
  owner: AvailablePackage | undefined,
  level: LevelName,
  run: (command: GuestCommand, role: CommandRecord['role'], timeoutMs: number) => Promise<ExecResult & { forensics: readonly string[] }>,
  timeoutMs: number,
  where: string,
): Promise<ProgramRun> {
  const path = library.soname;
  const base = { path, firstLine: '', errorLine: '', missing: false } as const;
  const listed = await run({ argv: [LDSO, '--library-path', library.dir, '--list', '--preload', library.soname, '/bin/true'] }, 'program', timeoutMs);
  if (listed.timedOut) throw hung(where, `the dynamic loader listing ${library.soname}`, owner?.name ?? library.soname, timeoutMs, listed);
  const copy = selectedCopy(listed.stdout, library.soname);
  if (!copy || /cannot be preloaded/.test(listed.stderr)) {
    return { ...base, exitCode: listed.exitCode, signal: listed.signal, missing: true, errorLine: listed.stderr.trim().split('\n')[0] ?? `the loader found no ${library.soname}` };
  }
  if (!copyLevelOk(copy, owner, level)) {
    return { ...base, path: copy, exitCode: listed.exitCode, signal: null, firstLine: `loads ${copy}`, problem: { text: `the loader selects ${copy}, built above this ${level} CPU`, deviation: 'above-level' } };
  }
  const loaded = await run({ argv: [LDSO, '--preload', copy, '/bin/true'] }, 'program', timeoutMs);
  if (loaded.timedOut) throw hung(where, `loading ${copy}`, owner?.name ?? library.soname, timeoutMs, loaded);
  const refused = /cannot be preloaded/.test(loaded.stderr);
  return {
    ...base,
    path: copy,
    exitCode: loaded.exitCode,
    signal: loaded.signal,
    firstLine: `loads ${copy}`,
    errorLine: loaded.stderr.trim().split('\n')[0] ?? '',
    ...(refused ? { problem: { text: `the loader cannot load ${copy}: ${loaded.stderr.trim().split('\n')[0]}`, deviation: 'exit' as const } } : {}),
    ...(loaded.forensics.length ? { forensics: loaded.forensics.join(' | ') } : {}),
  };
}
