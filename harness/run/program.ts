// The words of a cell's run: what a guest answers, the program a cell runs (scenario,
// driver, repositories, limits), its transcript, and the two ways a step ends early: the
// product's failure (ProductFailure, the cell fails) and the harness's (CellError).
import type { Judgement, PackageDriver } from '../drivers/driver.js';
import type { CpuTarget } from '../levels/targets.js';
import type { LevelName } from '../levels/table.js';
import type { ForensicsRecord } from '../model/forensics-record.js';
import type { CheckResult, StepRecord } from '../results/types.js';
import type { Scenario } from '../scenario/types.js';
import { LevelgateError, type ErrorContext, type ErrorFields } from '../util/errors.js';
import type { CellGuest, ExecResult } from '../model/guest.js';
import type { ProgramSpec, ResolvedRepo } from '../model/programs.js';

/** The cell's one disk, booted at one level at a time. */
export interface GuestSession {
  /** The running guest. */
  current(): CellGuest;
  /** Powers the guest off (cleanly) and boots the same disk at `level`. */
  bootAt(level: LevelName): Promise<CellGuest>;
  /** The installed set the first guest starts with, when known without a query (a snapshot's). */
  readonly initialInstalled?: readonly string[];
}

/** An infrastructure failure inside a cell: ends it as an error, with what to look at (`details`) and where (the fields). */
export class CellError extends LevelgateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('infrastructure', message, context);
  }
}

/**
 * The product failed: a tool crashed, exited outside its contract or hung while the
 * guest still answered, or a program hung. Fails the cell (no known issue explains it,
 * no retry repeats it); `check` is the failing check recorded on the step.
 */
export class ProductFailure extends LevelgateError {
  constructor(
    message: string,
    readonly check: CheckResult,
    context: ErrorContext = {},
  ) {
    super('command', message, context);
  }
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
  /** Time spent reading the installed set (the driver's installed query); absent: not counted. */
  installedQueryMs?: number;
}

export interface InterpretOptions {
  /**
   * Replay for a reproducer: run the steps up to this one, run its solver command so
   * that the tool writes its own test case, collect it into the transcript, and stop.
   */
  readonly solverCaseAt?: number;
}

/** How a command ended, as error fields. */
export function commandFields(result: ExecResult): ErrorFields {
  return { command: result.command, exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs };
}

/** A command that hung: killed at its time limit while the guest still answered. */
export function hung(where: string, what: string, subject: string, limitMs: number, result: ExecResult, fields: ErrorFields = {}): ProductFailure {
  const limit = `${Math.round(limitMs / 1000)} s`;
  return new ProductFailure(`${where}: ${what} hung: it did not finish within ${limit} and was killed (the guest still answered)`, {
    kind: 'outcome',
    subject,
    check: `${what} finishes`,
    expected: `ends within ${limit}`,
    actual: `killed after ${limit} (hung)`,
    status: 'fail',
    deviation: 'hung',
  }, { ...fields, details: `${result.stdout}\n${result.stderr}`.trim() });
}

/**
 * A tool command's ending under its contract: a hang or a broken contract is a
 * ProductFailure, a harness problem a CellError; both carry the command's fields.
 */
export function judgeEnding(where: string, result: ExecResult, judged: Judgement, limitMs: number, fields: ErrorFields = {}): Judgement {
  if (result.timedOut) throw hung(where, `\`${result.command}\``, '', limitMs, result, fields);
  if (result.spawnFailed) throw new CellError(`${where}: \`${result.command}\` could not start: ${result.stderr.trim()}`, fields);
  const output = `${result.stdout}\n${result.stderr}`.trim();
  if (judged.kind === 'error') throw new CellError(`${where}: \`${result.command}\` failed: ${judged.message}`, { ...fields, details: output });
  if (judged.kind === 'broken') {
    const how = result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`;
    throw new ProductFailure(
      `${where}: \`${result.command}\` failed: ${judged.message}`,
      { kind: 'outcome', subject: '', check: `\`${result.command}\` ends within its contract`, expected: 'an ending its contract has', actual: how, status: 'fail', deviation: result.signal ? 'signal' : 'exit' },
      { ...fields, details: output },
    );
  }
  return judged;
}
