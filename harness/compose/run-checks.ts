// Runs what an installed name ships in a compose audit's guest and judges it: each
// program (with --version; a generated compose's program prints its package's identity,
// which must be the installed build's), each library asked of the dynamic loader and
// loaded into a program (its initialiser runs, so a copy above the CPU dies of SIGILL).
// Every SIGILL is explained by the forensics, as in a cell. Many names at once: every
// command of theirs in one guest command (batch-runs.ts), which decides each verdict;
// a command that failed there runs again alone only for its forensics.
import { archLevel } from '../levels/arch.js';
import { levelIndex, type LevelName } from '../levels/table.js';
import { explainCommand } from '../forensics/explain-command.js';
import { evraString, type AvailablePackage } from '../packages/available.js';
import type { CheckResult, CommandRecord, Deviation } from '../results/types.js';
import { commandRecord } from '../results/command-record.js';
import type { CellGuest, ExecResult } from '../model/guest.js';
import { quoteCommand } from '../util/quote.js';
import type { NameChecks } from './metadata.js';
import { batchCommand, parseBatch, programArgv, type BatchItem, type BatchRun } from './batch-runs.js';
import { hwcapsDirLevel, listArgv, loadArgv, selectedCopy } from '../levels/loader.js';

export interface GuestRunner {
  readonly guest: CellGuest;
  readonly programMs: number;
  readonly commandMs: number;
}

/** A command's result and its evidence. */
interface Ran {
  readonly result: ExecResult;
  readonly record: CommandRecord;
}

/** Runs one command and keeps it as evidence, its SIGILLs explained. */
export async function recorded(runner: GuestRunner, argv: readonly string[], role: CommandRecord['role'], timeoutMs: number): Promise<Ran> {
  const { guest } = runner;
  const result = await guest.exec(argv, { timeoutMs });
  const traps = result.consoleEvents.filter((e) => e.kind === 'illegal-instruction').map((e) => e.line);
  const forensics = result.signal === 'SIGILL' || traps.length || /CPU does not support/.test(result.stderr)
    ? await explainCommand({ argv, stderr: result.stderr, consoleLines: traps }, { exec: (a) => guest.exec(a, { timeoutMs: runner.commandMs }), level: guest.level, fidelity: guest.fidelity })
    : [];
  const record = commandRecord(result, role, forensics.map((f) => f.line));
  return { result, record };
}

/**
 * Where a name's commands' results come from: `run` gives the result that decides the
 * verdict; `again`, when given, runs a command that failed there once more alone, for
 * its forensics only.
 */
interface RunSource {
  run(argv: readonly string[]): Promise<Ran>;
  again?(argv: readonly string[]): Promise<Ran>;
  /** A command the source ran that the judgement does not ask for (a load whose copy is above the CPU). */
  ranAlso?(argv: readonly string[]): Ran | undefined;
}

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';

/** How a run that did not pass differs (a run stopped at its time limit is hung, whatever signal stopped it). */
function runDeviation(result: ExecResult): Deviation {
  if (result.timedOut) return 'hung';
  if (result.signal === 'SIGILL') return 'sigill';
  if (result.signal) return 'signal';
  return 'exit';
}

const describe = (result: ExecResult): string =>
  result.timedOut ? 'hung' : result.signal ? `killed by ${result.signal}${firstLine(result.stderr) ? ` (${firstLine(result.stderr)})` : ''}` : `exit ${result.exitCode}${firstLine(result.stderr || result.stdout) ? `: ${firstLine(result.stderr || result.stdout)}` : ''}`;

/** The short form of an ending, to say how a run alone differed. */
const ending = (result: ExecResult): string => (result.timedOut ? 'hung' : result.signal ? `killed by ${result.signal}` : `exit ${result.exitCode}`);

/** The forensics of a failed run (or of its run alone), and how the run alone ended when that differs. */
function aloneNote(ran: Ran, alone: Ran | undefined): string {
  const forensics = (alone ?? ran).record.forensics;
  const printed = alone && firstLine(alone.result.stdout) !== firstLine(ran.result.stdout) ? `, printed "${firstLine(alone.result.stdout)}"` : '';
  const differs = alone && (ending(alone.result) !== ending(ran.result) || printed) ? `; run again alone: ${ending(alone.result)}${printed}` : '';
  return `${forensics ? ` — ${forensics.join(' | ')}` : ''}${differs}`;
}

const failure = (ran: Ran, alone: Ran | undefined): string => `${describe(ran.result)}${aloneNote(ran, alone)}`;

/** The level a library copy needs: its glibc-hwcaps directory's, else its package's arch's. */
function copyLevel(copy: string, owner: AvailablePackage): LevelName {
  return hwcapsDirLevel(copy) ?? archLevel(owner.arch) ?? 'v1';
}


/** Every program and library of `installed` run or loaded, each command alone. */
export function runChecks(runner: GuestRunner, name: string, installed: AvailablePackage, ships: NameChecks): Promise<{ checks: CheckResult[]; commands: CommandRecord[] }> {
  return judgeRuns(runner.guest.level, name, installed, ships, { run: (argv) => recorded(runner, argv, 'program', runner.programMs) });
}

/** Judges one name's programs and libraries with the results `source` gives, in the order they run. */
async function judgeRuns(level: LevelName, name: string, installed: AvailablePackage, ships: NameChecks, source: RunSource): Promise<{ checks: CheckResult[]; commands: CommandRecord[] }> {
  const checks: CheckResult[] = [];
  const commands: CommandRecord[] = [];
  /** The deciding run, and when it failed and the source can, the same command alone. */
  const run = async (argv: readonly string[], failed: (ran: Ran) => boolean): Promise<{ ran: Ran; alone?: Ran }> => {
    const ran = await source.run(argv);
    commands.push(ran.record);
    if (!failed(ran) || !source.again) return { ran };
    const alone = await source.again(argv);
    commands.push(alone.record);
    return { ran, alone };
  };
  const identity = `${name} ${evraString(installed).replace(/\.([^.]+)$/, ' $1')}`;
  const exited0 = (r: ExecResult): boolean => r.exitCode === 0 && !r.signal && !r.timedOut;
  for (const program of ships.programs) {
    // A generated compose's program names the package whose files it is: it must be the installed build.
    const passes = (r: ExecResult): boolean => exited0(r) && (!firstLine(r.stdout).startsWith(`${name} `) || firstLine(r.stdout) === identity);
    const { ran, alone } = await run(programArgv(program), (r) => !passes(r.result));
    const out = firstLine(ran.result.stdout);
    const claims = out.startsWith(`${name} `);
    const base = { kind: 'runs' as const, subject: program, check: `runs ${program} (${name})`, expected: claims ? `runs and reports ${identity}` : 'runs (exit 0)' };
    if (passes(ran.result)) checks.push({ ...base, actual: out || 'exit 0', status: 'pass' });
    else if (exited0(ran.result)) checks.push({ ...base, actual: `${out}${aloneNote(ran, alone)}`, status: 'fail', deviation: 'output' });
    else checks.push({ ...base, actual: failure(ran, alone), status: 'fail', deviation: runDeviation(ran.result) });
  }
  for (const library of ships.libraries) {
    const base = { kind: 'runs' as const, subject: library.soname, check: `loads ${library.soname} (${name})`, expected: `the loader picks a copy for ${level} and loads it` };
    const listed = await run(listArgv(library.soname, library.dir), (r) => !selectedCopy(r.result.stdout, library.soname));
    const copy = selectedCopy(listed.ran.result.stdout, library.soname);
    if (!copy) {
      checks.push({ ...base, actual: `the loader found no copy: ${failure(listed.ran, listed.alone)}`, status: 'fail', deviation: 'missing' });
      continue;
    }
    if (levelIndex(copyLevel(copy, installed)) > levelIndex(level)) {
      const loadedAnyway = source.ranAlso?.(loadArgv(copy));
      if (loadedAnyway) commands.push(loadedAnyway.record);
      checks.push({ ...base, actual: `the loader selects ${copy}, built above this ${level} CPU`, status: 'fail', deviation: 'above-level' });
      continue;
    }
    const loads = (r: ExecResult): boolean => exited0(r) && !/cannot be preloaded/.test(r.stderr);
    const { ran, alone } = await run(loadArgv(copy), (r) => !loads(r.result));
    const ok = loads(ran.result);
    checks.push({ ...base, actual: ok ? `loads ${copy}` : `${copy}: ${failure(ran, alone)}`, status: ok ? 'pass' : 'fail', ...(ok ? {} : { deviation: runDeviation(ran.result) }) });
  }
  return { checks, commands };
}

/** A name whose programs and libraries a batch judges. */
export interface BatchName {
  readonly name: string;
  readonly installed: AvailablePackage;
  readonly ships: NameChecks;
}

/**
 * Every listed name's programs and libraries in one guest command; each name judged on
 * its own commands' results from it. When the batch itself fails (the guest lost, the
 * script stopped), every name is judged as `runChecks` does, each command alone.
 */
export async function runChecksOfBatch(runner: GuestRunner, names: readonly BatchName[]): Promise<Map<string, { checks: CheckResult[]; commands: CommandRecord[] }>> {
  const items: BatchItem[] = names.flatMap(({ ships }) => [...ships.programs.map((program) => ({ kind: 'program' as const, program })), ...ships.libraries.map((l) => ({ kind: 'library' as const, ...l }))]);
  const runs = items.length ? await runBatch(runner, items) : [];
  const byCommand = new Map((runs ?? []).map((r) => [r.result.command, r]));
  const judged = new Map<string, { checks: CheckResult[]; commands: CommandRecord[] }>();
  for (const { name, installed, ships } of names) {
    if (!runs) {
      judged.set(name, await runChecks(runner, name, installed, ships));
      continue;
    }
    const fromBatch = (argv: readonly string[]): Ran | undefined => {
      const r = byCommand.get(quoteCommand(argv));
      return r && { result: r.result, record: commandRecord(r.result, 'program', []) };
    };
    judged.set(
      name,
      await judgeRuns(runner.guest.level, name, installed, ships, {
        // A command the batch did not run (a load of a copy the script read otherwise) runs alone.
        run: async (argv) => fromBatch(argv) ?? recorded(runner, argv, 'program', runner.programMs),
        again: (argv) => recorded(runner, argv, 'program', runner.programMs),
        ranAlso: fromBatch,
      }),
    );
  }
  return judged;
}

/** The batch run; undefined when it failed as a whole (then each command runs alone). */
async function runBatch(runner: GuestRunner, items: readonly BatchItem[]): Promise<BatchRun[] | undefined> {
  const command = batchCommand(items, runner.programMs, runner.commandMs);
  try {
    const result = await runner.guest.exec(command.argv, { timeoutMs: command.timeoutMs });
    return parseBatch(items, command, result);
  } catch {
    return undefined;
  }
}
