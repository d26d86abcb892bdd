// What each kind of scenario step does in the guest, one small handler per kind: the
// commands it runs, and what it leaves for the checks (an outcome, updates, detector
// readings). The interpreter looks the handler up by the step's kind.
import type { Judgement } from '../drivers/driver.js';
import type { GuestCommand } from '../model/guest.js';
import { rpm as rpmDriver } from '../drivers/rpm.js';
import { levelBelow } from '../levels/arch.js';
import { detectionCommand, parseDetection, type DetectorReading } from '../drivers/detectors.js';
import type { LevelName } from '../levels/table.js';
import type { Outcome } from '../scenario/evaluate.js';
import type { StepAction } from '../scenario/types.js';
import { CellError } from './program.js';
import type { StepRun } from './step-run.js';

/** What a step leaves for its checks. */
export interface StepEffect {
  /** The tool's answer to the step's operation. */
  readonly outcome?: Outcome;
  readonly updates?: string[];
  readonly detectors?: DetectorReading[];
  /** The step may change the installed set (it is asked again after it). */
  readonly changesInstalled: boolean;
}

/** A replay collected the step's solver test case: the replay ends here. */
export const REPLAY_DONE = 'replay-done';

export type StepHandler<A extends StepAction = StepAction> = (step: StepRun, action: A) => Promise<StepEffect | typeof REPLAY_DONE>;

/** The level a move-to step boots at. */
export function moveTarget(from: LevelName, to: LevelName | 'one-below'): LevelName {
  if (to !== 'one-below') return to;
  const below = levelBelow(from);
  if (!below) throw new CellError(`cannot move the disk one level below ${from}: there is none`);
  return below;
}

const expand = (name: string, releasever: string | undefined) => (releasever === undefined ? name : name.replaceAll('$releasever', releasever));
const outcomeOf = (judged: Judgement): Outcome => (judged.kind === 'refused' ? { kind: 'refused', reason: judged.reason, message: judged.message } : { kind: 'ok' });
const KEEPS_INSTALLED: StepEffect = { changesInstalled: false };
const MAY_CHANGE_INSTALLED: StepEffect = { changesInstalled: true };

/** The step's package operation: in a replay, its solver test case instead; else run and judged. */
async function operate(step: StepRun, command: GuestCommand): Promise<StepEffect | typeof REPLAY_DONE> {
  if (await step.solverCase(command)) return REPLAY_DONE;
  return { outcome: outcomeOf((await step.tool(command, 'operation')).judged), changesInstalled: true };
}

/** Runs each configuration command the driver has for this step, or says it has none. */
async function configure(step: StepRun, commands: readonly GuestCommand[] | undefined, lacking: string): Promise<StepEffect> {
  if (!commands) throw step.problem(lacking);
  for (const command of commands) await step.tool(command, 'configure');
  return KEEPS_INSTALLED;
}

/** A move or reboot: the same disk boots at `level`, and later commands run there. */
async function bootAt(step: StepRun, level: LevelName): Promise<StepEffect> {
  step.cell.guest = await step.cell.session.bootAt(level);
  return MAY_CHANGE_INSTALLED;
}

type Handlers = { readonly [K in StepAction['kind']]: StepHandler<Extract<StepAction, { kind: K }>> };

export const STEP_HANDLERS: Handlers = {
  async repos(step, action) {
    const { driver } = step.cell.program;
    step.cell.enabled = action.use.map((name) => step.repo(name));
    const { commands, refresh } = driver.configureRepos(step.refs(), step.cell.releasever);
    for (const command of commands) await step.tool(command, 'configure');
    if (refresh) await step.tool(refresh, 'refresh');
    await step.verifyRepos();
    return KEEPS_INSTALLED;
  },

  async operation(step, action) {
    const { driver } = step.cell.program;
    const command = driver.operation(action.op, action.packages, step.cell.releasever);
    if (!command) throw step.problem(`${driver.name} has no ${action.op} operation`);
    return operate(step, command);
  },

  async 'install-file'(step, action) {
    const { driver, limits } = step.cell.program;
    const repo = step.cell.program.repos.get(step.repo(action.repo))!;
    const file = `${expand(repo.guestPath, step.cell.releasever)}/${action.file}`;
    if (!action.rpmFlags) return operate(step, driver.installFile(file));
    // By hand with rpm, whatever the driver: judged by rpm's own contract.
    const result = await step.run({ argv: ['rpm', '-i', ...action.rpmFlags, file] }, 'action', limits.commandMs);
    return { outcome: outcomeOf(step.ending(result, rpmDriver.judge('operation', result))), changesInstalled: true };
  },

  async 'set-env'(step, action) {
    step.cell.env = { ...step.cell.env, ...action.vars };
    return KEEPS_INSTALLED;
  },

  async 'override-arch'(step, action) {
    const { driver } = step.cell.program;
    return configure(step, driver.overrideArch(action.arch), `${driver.name} has no arch override to ${action.arch}; run the scenario with drivers that have one (zypper, rpm, apt, pacman)`);
  },

  async pin(step, action) {
    const { driver } = step.cell.program;
    return configure(step, driver.pin(action.pin), `${driver.name} has no way to pin a package`);
  },

  async 'release-upgrade'(step, action) {
    const { driver } = step.cell.program;
    step.cell.releasever = action.releasever;
    for (const name of step.cell.enabled) step.repo(name);
    const command = driver.releaseUpgrade(action.releasever);
    if (!command) throw step.problem(`${driver.name} has no release upgrade`);
    // The repositories of the new release must load before the upgrade reads them.
    const { refresh } = driver.configureRepos(step.refs(), action.releasever);
    if (refresh) await step.tool(refresh, 'refresh');
    await step.verifyRepos();
    return operate(step, command);
  },

  async 'list-updates'(step) {
    const { driver } = step.cell.program;
    const command = driver.listUpdates(step.cell.releasever);
    if (!command) throw step.problem(`${driver.name} cannot list updates`);
    return { updates: driver.parseUpdates((await step.tool(command, 'list-updates')).result.stdout), changesInstalled: false };
  },

  async detect(step) {
    return { detectors: parseDetection((await step.tool(detectionCommand(), 'query')).result.stdout), changesInstalled: false };
  },

  'move-to': (step, action) => bootAt(step, moveTarget(step.cell.guest.level, action.level)),
  reboot: (step) => bootAt(step, step.cell.guest.level),
};

/** Runs the handler of the step's kind. */
export function handleStep(step: StepRun): Promise<StepEffect | typeof REPLAY_DONE> {
  return (STEP_HANDLERS[step.action.kind] as StepHandler)(step, step.action);
}
