// Runs a scenario's steps in a guest and records what happened: every command with its
// output, the installed set before and after, the programs' outcomes, and the checks.
// Each step is done by the handler of its kind (step-handlers.ts); this loop reads as
// the scenario does: installed before, the step, installed after, programs, checks.
// Every command is judged by the driver's contract: a package operation may succeed or
// be refused (a check then says whether that was right). A tool that crashes, exits
// outside its contract or hangs (killed at its time limit while the guest still
// answers), and a program that hangs, are the product's failure (ProductFailure): the
// step is recorded with a failing check and the cell fails, never retried. A repository
// that did not load or a step the driver cannot do is the harness's (CellError): the
// cell is an error. The guest is an interface, so unit tests drive this with a fake.
import { QUERY_INSTALLED } from '../drivers/driver.js';
import type { LevelName } from '../levels/table.js';
import { evaluate, type Observation } from '../scenario/evaluate.js';
import { expectContextOf, type ExpectContext, type Expectation, type Scenario, type Step } from '../scenario/types.js';
import type { CellProgram, GuestSession, InterpreterHooks, InterpretOptions, Transcript } from './program.js';
import { runPrograms } from './programs.js';
import { handleStep, moveTarget, REPLAY_DONE, type StepEffect } from './step-handlers.js';
import { StepRun, type CellRun } from './step-run.js';

/** Every level a scenario's guest boots at, starting from `level`. */
export function levelsVisited(scenario: Scenario, level: LevelName): LevelName[] {
  const levels = [level];
  for (const step of scenario.steps) if (step.action.kind === 'move-to') levels.push(moveTarget(levels.at(-1)!, step.action.level));
  return levels;
}

/** Runs the steps; throws CellError on an infrastructure failure (the transcript so far stays in `transcript`). */
export async function interpret(program: CellProgram, session: GuestSession, transcript: Transcript, hooks: InterpreterHooks = {}, options: InterpretOptions = {}): Promise<void> {
  const { driver } = program;
  const cell: CellRun = {
    program,
    session,
    transcript,
    hooks,
    options,
    guest: session.current(),
    releasever: program.scenario.releasever,
    enabled: [],
    env: {},
    // A snapshot records rpm's installed set: the start of a cell of an rpm-database driver only.
    installedNow: session.initialInstalled && driver.installedQuery === QUERY_INSTALLED ? [...session.initialInstalled] : undefined,
  };
  const context = expectContextOf(program.target, driver.name);
  for (const [i, scenarioStep] of program.scenario.steps.entries()) {
    const step = new StepRun(cell, i + 1, scenarioStep.action);
    hooks.onStepStart?.(step.index, step.title);
    const installedBefore = await step.installedBefore();
    const effect = await handleStep(step);
    if (effect === REPLAY_DONE) return;
    const installedAfter = effect.changesInstalled ? await step.queryInstalled() : [...installedBefore];
    cell.installedNow = installedAfter;
    const checks = await check(step, expectationOf(scenarioStep, context), effect, installedAfter).catch((error: unknown) => step.failed(error));
    step.record(checks, installedBefore, installedAfter);
  }
}

/** Runs the programs the step's expectation names and judges what the step left against it. */
async function check(step: StepRun, expectation: Expectation, effect: StepEffect, installed: readonly string[]) {
  const { guest, program } = step.cell;
  const programs = await runPrograms(expectation, installed, program, step);
  const { outcome, updates, detectors } = effect;
  const seen: Observation = {
    level: guest.level,
    fidelity: guest.fidelity,
    ...(outcome ? { outcome } : {}),
    installed,
    programs: programs.runs,
    ...(updates ? { updates } : {}),
    ...(detectors ? { detectors, detectedBy: program.driver.detector, detectedArch: detectors.find((r) => r.detector === program.driver.detector)?.answer ?? 'absent' } : {}),
    available: step.available(),
    runnablePrograms: programs.runnable,
    packagePrograms: programs.packagePrograms,
  };
  return evaluate(expectation, seen);
}

function expectationOf(step: Step, context: ExpectContext): Expectation {
  const source = step.expectation;
  if (!source) return {};
  return typeof source === 'function' ? source(context) : source;
}
