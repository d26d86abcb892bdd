// One step of a cell as it runs: its commands (each recorded, every SIGILL explained),
// the tool's contract applied to each ending, the repository view check and the solver
// test case of a replay. The step handlers and the interpreter loop share it.
import type { CommandPurpose, Judgement, RepoRef } from '../drivers/driver.js';
import type { GuestCommand } from '../model/guest.js';
import { explainCommand } from '../forensics/explain-command.js';
import type { AvailablePackage } from '../packages/available.js';
import type { CheckResult, CommandRecord, StepRecord } from '../results/types.js';
import { commandRecord } from '../results/command-record.js';
import { stepTitle, type StepAction } from '../scenario/types.js';
import type { ErrorFields } from '../util/errors.js';
import { quoteCommand } from '../util/quote.js';
import { CellError, commandFields, judgeEnding, ProductFailure, type CellProgram, type GuestSession, type InterpreterHooks, type InterpretOptions, type Transcript } from './program.js';
import { type CellGuest, type ExecResult } from '../model/guest.js';

/** What a cell's steps share and change as they run. */
export interface CellRun {
  readonly program: CellProgram;
  readonly session: GuestSession;
  readonly transcript: Transcript;
  readonly hooks: InterpreterHooks;
  readonly options: InterpretOptions;
  /** The guest the next command runs in (a move or reboot replaces it). */
  guest: CellGuest;
  /** The value of $releasever (a release upgrade changes it). */
  releasever: string | undefined;
  /** The repositories the tool is configured with, by the scenario's names. */
  enabled: string[];
  /** Variables every command runs with from a set-env step on. */
  env: Record<string, string>;
  /** The installed set after the last step, once known. */
  installedNow: string[] | undefined;
}

/** A command run by a step: its ending and the one-line forensics of its SIGILLs. */
export type StepCommandResult = ExecResult & { readonly forensics: readonly string[] };

const SOLVER_CASE_DIR = '/var/tmp/levelgate-solver-case';

/** The role a command of `purpose` has in the step's record. */
const roleOf = (purpose: CommandPurpose): CommandRecord['role'] =>
  purpose === 'operation' ? 'action' : purpose === 'configure' || purpose === 'refresh' ? 'setup' : 'query';

export class StepRun {
  readonly title: string;
  readonly commands: CommandRecord[] = [];
  /** The installed set before this step, once known (the evidence of a step that fails early). */
  before: readonly string[] | undefined;

  constructor(
    readonly cell: CellRun,
    readonly index: number,
    readonly action: StepAction,
  ) {
    this.title = stepTitle(action);
    this.before = cell.installedNow;
  }

  /** "step 3 (install lgx)": how messages name the step. */
  get where(): string {
    return `step ${this.index} (${this.title})`;
  }

  /** The step and level as error fields. */
  get fields(): ErrorFields {
    return { step: `${this.index} (${this.title})`, level: this.cell.guest.level, scenario: this.cell.program.scenario.id };
  }

  /** A harness failure of this step (the cell is an error). */
  problem(message: string, fields: ErrorFields = {}): CellError {
    return new CellError(`${this.where}: ${message}`, { ...this.fields, ...fields });
  }

  /** Runs a command in the guest, records it, and explains every SIGILL it met. */
  async run(command: GuestCommand, role: CommandRecord['role'], timeoutMs: number): Promise<StepCommandResult> {
    const { guest, hooks, env, transcript, program } = this.cell;
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
    this.commands.push(commandRecord(result, role, records.map((r) => r.line)));
    if (role === 'program') transcript.programMs += result.durationMs;
    else if (role !== 'query' || command !== program.driver.installedQuery) transcript.packageManagerMs += result.durationMs;
    else transcript.installedQueryMs = (transcript.installedQueryMs ?? 0) + result.durationMs;
    return { ...result, forensics: records.map((r) => r.line) };
  }

  /** A tool command's ending under its contract (a hang or a broken contract fails the step, a harness problem is a CellError). */
  ending(result: ExecResult, judgement: Judgement): Judgement {
    try {
      return judgeEnding(this.where, result, judgement, this.cell.program.limits.commandMs, { ...this.fields, ...commandFields(result) });
    } catch (error) {
      return this.failed(error);
    }
  }

  /** Runs a tool command and judges it by the driver's contract for `purpose`. */
  async tool(command: GuestCommand, purpose: CommandPurpose): Promise<{ result: ExecResult; judged: Judgement }> {
    const result = await this.run(command, roleOf(purpose), this.cell.program.limits.commandMs);
    return { result, judged: this.ending(result, this.cell.program.driver.judge(purpose, result)) };
  }

  /** The installed set, asked of the tool. */
  async queryInstalled(): Promise<string[]> {
    const { driver } = this.cell.program;
    return driver.parseInstalled((await this.tool(driver.installedQuery, 'query')).result.stdout);
  }

  /** The installed set before the step: known from the last step (or a snapshot), else asked. */
  async installedBefore(): Promise<readonly string[]> {
    this.before = this.cell.installedNow ?? (await this.queryInstalled());
    return this.before;
  }

  /** What the enabled repositories offer at the current $releasever. */
  available(): AvailablePackage[] {
    const { program, enabled, releasever } = this.cell;
    return enabled.flatMap((name) => [...(program.repos.get(name)?.packages(releasever) ?? [])]);
  }

  /** The scenario's repository NAME at the current $releasever; the loader already checked that it exists. */
  repo(name: string): string {
    const { program, releasever } = this.cell;
    const repo = program.repos.get(name);
    if (!repo) throw this.problem(`scenario ${program.scenario.id} has no repository ${name}`);
    if (repo.packages(releasever).length === 0 && name.includes('$releasever')) throw this.problem(`repository ${name} has no content for releasever ${releasever}`);
    return name;
  }

  /** The enabled repositories as the driver configures them. */
  refs(): RepoRef[] {
    return this.cell.enabled.map((name) => {
      const repo = this.cell.program.repos.get(name)!;
      return { id: repo.id, path: repo.guestPath, ...(repo.apt ? { apt: repo.apt } : {}) };
    });
  }

  /** The tool must see exactly what each enabled repository's metadata lists. */
  async verifyRepos(): Promise<void> {
    const { program, enabled, releasever } = this.cell;
    const { driver } = program;
    if (!driver.solver || enabled.length === 0) return;
    const view = driver.parseRepoView((await this.tool(driver.repoView(releasever), 'repo-view')).result.stdout, this.refs());
    for (const name of enabled) {
      const repo = program.repos.get(name)!;
      const want = new Set(repo.packages(releasever).map((p) => `${p.name}-${p.epoch ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`));
      const seen = new Set(view.get(repo.id) ?? []);
      if (seen.size === 0 && want.size > 0) {
        const stderr = this.commands.at(-1)?.stderr.trim().split('\n').filter(Boolean).slice(-4).join(' | ');
        throw this.problem(`repository ${name} (${repo.id}) did not load: ${driver.name} sees none of its ${want.size} packages${stderr ? `; it said: ${stderr}` : ''}`);
      }
      // A tool may hide builds of arches it does not take on this CPU (libzypp drops
      // them from its pool as it loads): only the builds the driver always shows must all show.
      const missing = [...want].filter((p) => !seen.has(p) && driver.alwaysShows(p.slice(p.lastIndexOf('.') + 1)));
      const extra = [...seen].filter((p) => !want.has(p));
      if (missing.length || extra.length) {
        throw this.problem(
          `${driver.name}'s view of repository ${name} (${repo.id}) differs from its metadata: ` +
            `${missing.length ? `missing ${missing.slice(0, 5).join(' ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.slice(0, 5).join(' ')}` : ''}`,
        );
      }
    }
  }

  /** In a replay, the step whose solver test case is wanted: the tool writes it, it is collected (true), and the replay ends. */
  async solverCase(command: GuestCommand): Promise<boolean> {
    const { options, program, transcript } = this.cell;
    if (options.solverCaseAt !== this.index) return false;
    const variant = program.driver.solverCase?.(command, SOLVER_CASE_DIR);
    if (!variant) return false;
    await this.tool(variant.command, 'operation');
    const listing = await this.tool({ argv: ['find', variant.testcaseDir, '-maxdepth', '1', '-type', 'f', '-printf', '%f\\n'] }, 'query');
    const files = new Map<string, Buffer>();
    for (const name of listing.result.stdout.split('\n').filter(Boolean)) {
      const read = await this.tool({ argv: ['cat', `${variant.testcaseDir}/${name}`] }, 'query');
      files.set(name, read.result.stdoutBytes ?? Buffer.from(read.result.stdout));
    }
    transcript.solverCase = { step: this.index, tool: program.driver.name, files };
    return true;
  }

  /** The product failed in this step: the step so far is the evidence, with the failing check; the cell ends here. */
  failed(error: unknown): never {
    if (error instanceof ProductFailure) this.record([error.check], this.before ?? [], this.cell.installedNow ?? this.before ?? []);
    throw error;
  }

  /** The step's record, in the transcript and to the hook. */
  record(checks: CheckResult[], installedBefore: readonly string[], installedAfter: readonly string[]): void {
    const record: StepRecord = { index: this.index, title: this.title, action: actionName(this.action), level: this.cell.guest.level, commands: this.commands, installedBefore, installedAfter, checks };
    this.cell.transcript.steps.push(record);
    this.cell.hooks.onStepEnd?.(record);
  }
}

const actionName = (action: StepAction): string => (action.kind === 'operation' ? action.op : action.kind);
