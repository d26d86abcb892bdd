// One package in one guest: installed from the read-only disk of packages, then each of
// its commands run (its programs with --version, or what --command gave), every SIGILL
// explained with its forensics; the install and the command runner serve the bisection too. The guest is an interface, so unit tests drive this
// with a fake.
import { explainCommand } from '../forensics/explain-command.js';
import { quoteCommand } from '../util/quote.js';
import type { CellGuest as RunGuest, ExecResult as RunResult } from '../model/guest.js';
import type { ProgramRunRecord, RunTrap } from '../audit/dynamic/types.js';

/** How a command in the guest ended, and what running a package needs of a guest: what the cell interpreter uses. */
export type { RunGuest, RunResult };

export interface InGuestPlan {
  /** The package file as the guest sees it (on the read-only disk). */
  readonly guestFile: string;
  readonly commands: readonly (readonly string[])[];
  /** Limits: the install, and each command. */
  readonly installMs: number;
  readonly commandMs: number;
}

export interface InGuestResult {
  readonly install: string;
  readonly problem?: string;
  readonly programs: ProgramRunRecord[];
  readonly traps: RunTrap[];
}

/**
 * The install: --nodeps because the guest's system is Debian's (dpkg's): the package's
 * requirements could never be met from its rpm database, and the audit runs each package
 * alone; --noscripts and --notriggers because scriptlets are written for the
 * distribution the package comes from (users, systemd, alternatives), and one that fails
 * here would abort the install and leave nothing to run; --ignorearch so a package runs
 * on any CPU asked for, also one below what its arch claims (to see where it breaks).
 */
export const installCommand = (guestFile: string): string[] => ['rpm', '-i', '--nodeps', '--noscripts', '--notriggers', '--ignorearch', guestFile];

const firstLine = (text: string): string => text.trim().split('\n')[0]?.slice(0, 200) ?? '';

/** Runs one command and explains every SIGILL it met (pushed onto `traps`): how it ended, as the reports show it. */
export async function runProgram(guest: RunGuest, argv: readonly string[], commandMs: number, traps: RunTrap[]): Promise<ProgramRunRecord> {
  const result = await guest.exec(argv, { timeoutMs: commandMs });
  const sigills = await explainRun(guest, argv, result, commandMs, traps);
  return {
    argv,
    command: result.command,
    exitCode: result.exitCode,
    signal: result.signal,
    timedOut: result.timedOut,
    spawnFailed: result.spawnFailed,
    durationMs: Math.round(result.durationMs),
    firstLine: result.exitCode === 0 ? firstLine(result.stdout) : firstLine(result.stderr) || firstLine(result.stdout),
    sigills,
  };
}

/** The forensics of a command's SIGILLs, pushed onto `traps`; their lines. */
async function explainRun(guest: RunGuest, argv: readonly string[], result: RunResult, commandMs: number, traps: RunTrap[]): Promise<string[]> {
  const records = await explainCommand(
    { argv, stderr: result.stderr, consoleLines: result.consoleEvents.filter((e) => e.kind === 'illegal-instruction').map((e) => e.line) },
    { exec: (a) => guest.exec(a, { timeoutMs: commandMs }), level: guest.level, fidelity: guest.fidelity },
  );
  traps.push(...records.map((r) => ({ ...r, command: result.command })));
  return records.map((r) => r.line);
}

/** Installs an RPM from the packages' disk; the reason when rpm could not. */
export async function installPackage(guest: RunGuest, guestFile: string, installMs: number, traps: RunTrap[]): Promise<{ install: string; problem?: string }> {
  const installArgv = installCommand(guestFile);
  const installed = await guest.exec(installArgv, { timeoutMs: installMs });
  await explainRun(guest, installArgv, installed, installMs, traps);
  const install = quoteCommand(installArgv);
  if (installed.exitCode === 0) return { install };
  const how = installed.timedOut ? `did not finish within ${Math.round(installMs / 1000)} s` : installed.signal ? `was killed by ${installed.signal}` : `exit ${installed.exitCode}`;
  return { install, problem: `rpm could not install it (${how}): ${firstLine(installed.stderr || installed.stdout) || 'no output'}` };
}

export async function runInGuest(guest: RunGuest, plan: InGuestPlan): Promise<InGuestResult> {
  const traps: RunTrap[] = [];
  const { install, problem } = await installPackage(guest, plan.guestFile, plan.installMs, traps);
  if (problem) return { install, problem, programs: [], traps };
  if (plan.commands.length === 0) return { install, problem: 'it ships no program in /usr/bin, /usr/sbin, /bin or /sbin and no --command names one: nothing ran', programs: [], traps };
  const programs: ProgramRunRecord[] = [];
  for (const argv of plan.commands) programs.push(await runProgram(guest, argv, plan.commandMs, traps));
  return { install, programs, traps };
}
