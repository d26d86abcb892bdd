// The step handlers, each driven on its own with a fake guest: what it runs, what it
// leaves for the checks, and the fields its failures carry.
import test from 'ava';
import { DRIVERS } from '../../harness/drivers/index.js';
import { exactTarget } from '../../harness/levels/targets.js';
import type { LevelName } from '../../harness/levels/table.js';
import { CellError, ProductFailure, type CellProgram, type Transcript } from '../../harness/run/program.js';
import { handleStep, REPLAY_DONE, STEP_HANDLERS } from '../../harness/run/step-handlers.js';
import { StepRun, type CellRun } from '../../harness/run/step-run.js';
import type { Scenario, StepAction } from '../../harness/scenario/types.js';
import { FakeGuest, type FakeScript } from '../fixtures/fake-guests.js';

const scenario: Scenario = { id: 'handlers', title: 'handlers', tags: [], drivers: ['dnf5'], repos: {}, steps: [] };

function cellOf(script: FakeScript, driver: 'dnf5' | 'rpm' = 'dnf5', level: LevelName = 'v3'): CellRun & { booted: LevelName[] } {
  const program: CellProgram = {
    cellId: 'c',
    scenario,
    level,
    target: exactTarget(level),
    driver: DRIVERS[driver],
    repos: new Map(),
    programs: () => [],
    inPlay: new Set(),
    limits: { commandMs: 1000, programMs: 1000 },
  };
  const transcript: Transcript = { steps: [], forensics: [], packageManagerMs: 0, programMs: 0 };
  const booted: LevelName[] = [];
  const session = {
    current: () => new FakeGuest(level, 'traps', script),
    bootAt: async (at: LevelName) => {
      booted.push(at);
      return new FakeGuest(at, 'traps', script);
    },
  };
  return { program, session, transcript, hooks: {}, options: {}, guest: session.current(), releasever: undefined, enabled: [], env: {}, installedNow: [], booted };
}

const stepOf = (cell: CellRun, action: StepAction) => new StepRun(cell, 2, action);

test('set-env: later commands run with the variables; the installed set is not asked again', async (t) => {
  const cell = cellOf(() => ({}));
  const effect = await STEP_HANDLERS['set-env'](stepOf(cell, { kind: 'set-env', vars: { A: '1' } }), { kind: 'set-env', vars: { A: '1' } });
  t.deepEqual(effect, { changesInstalled: false });
  t.deepEqual(cell.env, { A: '1' });
});

test('operation: the tool runs once; a refusal is the outcome, not an error', async (t) => {
  const guest = new FakeGuest('v3', 'traps', () => ({ exitCode: 1, stderr: 'No match for argument: nothere' }));
  const cell = cellOf(() => ({}));
  cell.guest = guest;
  const step = stepOf(cell, { kind: 'operation', op: 'install', packages: ['nothere'] });
  const effect = await handleStep(step);
  t.not(effect, REPLAY_DONE);
  t.is(guest.calls.length, 1);
  t.regex(guest.calls[0]!, /dnf5 .*install nothere/);
  t.is(effect !== REPLAY_DONE && effect.outcome?.kind, 'refused');
  t.is(step.commands[0]?.role, 'action');
});

test('operation the driver lacks: a CellError naming the step, with the step and level as fields', async (t) => {
  const cell = cellOf(() => ({}), 'rpm');
  const error = await t.throwsAsync(handleStep(stepOf(cell, { kind: 'operation', op: 'upgrade', packages: ['x'] })), { instanceOf: CellError });
  t.is(error?.message, 'step 2 (upgrade x): rpm has no upgrade operation');
  t.is(error?.step, '2 (upgrade x)');
  t.is(error?.level, 'v3');
  t.is(error?.scenario, 'handlers');
});

test('a tool killed by SIGSEGV: a ProductFailure carrying the command, exit, signal and duration as fields; the step is recorded with the failing check', async (t) => {
  const cell = cellOf(() => ({ signal: 'SIGSEGV' }));
  const step = stepOf(cell, { kind: 'operation', op: 'install', packages: ['lgx'] });
  const error = await t.throwsAsync(handleStep(step), { instanceOf: ProductFailure });
  t.regex(error!.command!, /dnf5 .*install lgx/);
  t.is(error?.signal, 'SIGSEGV');
  t.is(error?.exitCode, null);
  t.is(error?.durationMs, 1);
  t.is(error?.step, '2 (install lgx)');
  t.is(cell.transcript.steps.length, 1);
  t.is(cell.transcript.steps[0]?.checks[0]?.deviation, 'signal');
});

test('move-to one-below boots the disk at the level below; reboot at the same level', async (t) => {
  const cell = cellOf(() => ({}));
  await handleStep(stepOf(cell, { kind: 'move-to', level: 'one-below' }));
  t.is(cell.guest.level, 'v2');
  await handleStep(stepOf(cell, { kind: 'reboot' }));
  t.deepEqual(cell.booted, ['v2', 'v2']);
});

test('list-updates: the parsed updates are left for the checks', async (t) => {
  const cell = cellOf((argv) => (argv.includes('check-upgrade') ? { exitCode: 100, stdout: 'lgx.x86_64_v3  2.0-1  main\n' } : {}));
  const effect = await handleStep(stepOf(cell, { kind: 'list-updates' }));
  t.deepEqual(effect !== REPLAY_DONE && effect.updates, ['lgx']);
});

test('repos naming a repository the scenario lacks: a CellError before anything runs', async (t) => {
  const guest = new FakeGuest('v3', 'traps', () => ({}));
  const cell = cellOf(() => ({}));
  cell.guest = guest;
  await t.throwsAsync(handleStep(stepOf(cell, { kind: 'repos', use: ['ghost'] })), { instanceOf: CellError, message: 'step 2 (enable repositories: ghost): scenario handlers has no repository ghost' });
  t.deepEqual(guest.calls, []);
});
