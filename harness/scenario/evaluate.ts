// Compares what a step produced with what the scenario expects. Pure: every check names
// what it expected, what it saw and, when it failed, how (the deviation a known issue
// can explain). Below fidelity `traps`, what only a CPU that traps can tell is not
// judged: a `dies` check, and a program built above the guest's level that ran (a KVM
// guest's CPU executes some of what a real CPU of its level refuses).
import type { Fidelity } from '../levels/canaries.js';
import { rpmArchOf, type RpmArch } from '../levels/arch.js';
import { DETECTORS, levelOfArch, type DetectorName, type DetectorReading } from '../drivers/detectors.js';
import { levelIndex, type LevelName } from '../levels/table.js';
import { bestVariant, evraString, newestRunnable, parseNevra, type AvailablePackage } from '../packages/available.js';
import { compareEvr, formatEvr } from '../packages/evr.js';
import type { CheckResult, Deviation } from '../results/types.js';
import type { Expectation, InstalledState } from './types.js';
import type { Refusal } from '../model/package-manager.js';

/** How a program the checks ran ended. */
export interface ProgramRun {
  readonly path: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The program does not exist (the agent could not start it). */
  readonly missing: boolean;
  /** Its first line of output. */
  readonly firstLine: string;
  /** The first line of its stderr, for messages. */
  readonly errorLine: string;
  /** What a fixture program must print for its installed package ("NAME EVR ARCH"); undefined for other programs. */
  readonly identity?: string;
  /** Its SIGILL explained (the forensics line), when it died of one. */
  readonly forensics?: string;
  /** Why it is no working run whatever its exit (a library the loader selected above the CPU's level, or could not load). */
  readonly problem?: { readonly text: string; readonly deviation: Deviation };
}

/** How the step's command ended, in the driver's terms. */
export type Outcome = { readonly kind: 'ok' } | { readonly kind: 'refused'; readonly reason: Refusal | undefined; readonly message: string };

/** What the harness saw after a step. */
export interface Observation {
  /** The guest's CPU level when the step ran (after a move, the new one). */
  readonly level: LevelName;
  readonly fidelity: Fidelity;
  /** undefined: the step ran no command whose outcome is judged. */
  readonly outcome?: Outcome;
  /** Installed packages, "NAME-[EPOCH:]VERSION-RELEASE.ARCH". */
  readonly installed: readonly string[];
  /** Program name → how it ended. */
  readonly programs: Readonly<Record<string, ProgramRun>>;
  readonly updates?: readonly string[];
  /** detect: the answer of the driver's own detector. */
  readonly detectedArch?: string;
  /** detect: every detector's answer. */
  readonly detectors?: readonly DetectorReading[];
  /** detect: the detector `detectedArch` comes from (the driver's own). */
  readonly detectedBy?: DetectorName;
  /** What the enabled repositories offer. */
  readonly available: readonly AvailablePackage[];
  /** Programs of installed scenario packages (for `runnable`), by program name. */
  readonly runnablePrograms?: readonly string[];
  /** Package name → the programs it ships (for `runsPackage`). */
  readonly packagePrograms?: Readonly<Record<string, readonly string[]>>;
}

/** The installed builds of `name`, as "[EPOCH:]VERSION-RELEASE.ARCH". */
export function installedOf(installed: readonly string[], name: string): AvailablePackage[] {
  return installed.flatMap((text) => {
    const p = parseNevra(text);
    return p && p.name === name ? [p] : [];
  });
}

const describeRefusal = (reason: Refusal | undefined, message: string): string => `refused (${reason ?? 'unrecognised reason'}): ${message}`;

function programActual(run: ProgramRun | undefined): string {
  if (!run) return 'not run';
  if (run.missing) return run.errorLine ? `not installed: ${run.errorLine.slice(0, 120)}` : 'not installed';
  if (run.problem) return run.problem.text;
  if (run.signal === 'SIGILL') return run.forensics ? `sigill — ${run.forensics}` : 'sigill';
  if (run.signal) return `signal ${run.signal}`;
  if (run.exitCode !== 0) return `exit ${run.exitCode}${run.errorLine ? `: ${run.errorLine.slice(0, 120)}` : ''}`;
  return run.firstLine || '(no output)';
}

function programDeviation(run: ProgramRun | undefined): Deviation {
  if (!run || run.missing) return 'not-run';
  if (run.problem) return run.problem.deviation;
  if (run.signal === 'SIGILL') return 'sigill';
  if (run.signal) return 'signal';
  if (run.exitCode !== 0) return 'exit';
  return 'output';
}

/**
 * Why a program that ran proves nothing on this guest, or undefined: below `traps`, a
 * build above the guest's level (its package's arch, in the identity it reports) may
 * have executed instructions a real CPU of that level refuses.
 */
function cannotTrust(run: ProgramRun, seen: Observation): string | undefined {
  if (seen.fidelity === 'traps' || !run.identity) return undefined;
  const arch = run.identity.split(' ')[2] ?? '';
  const built = levelOfArch(arch);
  if (built === null || levelIndex(built) <= levelIndex(seen.level)) return undefined;
  return `the build is ${arch} (${built}) and this guest's fidelity is ${seen.fidelity}: its CPU runs some instructions above ${seen.level}, so only a guest that traps can tell whether it runs here`;
}

/** True when the program ran as a working program: exit 0, and a fixture program reports its own package. */
function programRuns(run: ProgramRun | undefined): boolean {
  if (!run || run.missing || run.problem || run.signal || run.exitCode !== 0) return false;
  return run.identity === undefined || run.firstLine === run.identity;
}

/** Where the checks put their results: a check judged pass or fail (with how it failed), or a program run judged by how it ended. */
class Judge {
  readonly checks: CheckResult[] = [];
  constructor(private readonly seen: Observation) {}

  judge(c: Omit<CheckResult, 'status' | 'deviation'>, ok: boolean, deviation: Deviation): void {
    this.checks.push(ok ? { ...c, status: 'pass' } : { ...c, status: 'fail', deviation });
  }

  /** A program that ran is a pass only where its CPU would have refused what it must not run. */
  run(c: Omit<CheckResult, 'status' | 'deviation' | 'expected' | 'actual'>, run: ProgramRun | undefined): void {
    const check = { ...c, expected: run?.identity ? `runs and reports ${run.identity}` : 'runs (exit 0)', actual: programActual(run) };
    const ok = programRuns(run);
    const untrusted = ok ? cannotTrust(run!, this.seen) : undefined;
    if (untrusted) this.checks.push({ ...check, status: 'skip', skipReason: untrusted, needs: 'traps' });
    else this.judge(check, ok, programDeviation(run));
  }
}

/** One kind of expectation: the checks it makes of what was seen (none when the expectation does not ask). */
type Check = (expectation: Expectation, seen: Observation, out: Judge) => void;

function checkOutcome(expectation: Expectation, seen: Observation, out: Judge): void {
  const o = seen.outcome;
  if (!o) return;
  // A refusal carries its reason, so a known issue explains refusals for that reason only.
  const refusal = o.kind === 'refused' ? { refusal: o.reason ?? 'unrecognised' } : {};
  const actual = o.kind === 'ok' ? 'succeeded' : describeRefusal(o.reason, o.message);
  if (expectation.refused) {
    out.judge({ kind: 'outcome', subject: '', check: 'outcome', expected: `refused (${expectation.refused})`, actual, ...refusal }, o.kind === 'refused' && o.reason === expectation.refused, o.kind === 'ok' ? 'succeeded' : 'wrong-refusal');
  } else {
    out.judge({ kind: 'outcome', subject: '', check: 'outcome', expected: 'succeeds', actual, ...refusal }, o.kind === 'ok', 'refused');
  }
}

function checkInstalled(expectation: Expectation, seen: Observation, out: Judge): void {
  for (const [name, want] of Object.entries(expectation.installed ?? {})) out.checks.push(installedCheck(name, want, seen));
}

function checkRuns(expectation: Expectation, seen: Observation, out: Judge): void {
  for (const program of expectation.runs ?? []) out.run({ kind: 'runs', subject: program, check: `runs ${program}` }, seen.programs[program]);
}

function checkRunsPackage(expectation: Expectation, seen: Observation, out: Judge): void {
  for (const name of expectation.runsPackage ?? []) {
    const programs = seen.packagePrograms?.[name] ?? [];
    const base = { kind: 'runs' as const, subject: name, check: `programs of ${name}`, expected: 'installed, and every program and library runs' };
    // Nothing to run is never a pass: a package that is not installed fails, one that ships nothing runnable is not judged.
    if (installedOf(seen.installed, name).length === 0) out.checks.push({ ...base, actual: 'not installed', status: 'fail', deviation: 'missing' });
    else if (programs.length === 0) out.checks.push({ ...base, actual: 'ships no program or library', status: 'skip', skipReason: `${name} ships no program or library: nothing of it can run` });
    for (const program of programs) out.run({ kind: 'runs', subject: program, check: `runs ${program} (${name})` }, seen.programs[program]);
  }
}

function checkDies(expectation: Expectation, seen: Observation, out: Judge): void {
  for (const program of expectation.dies ?? []) {
    const run = seen.programs[program];
    const base = { kind: 'dies' as const, subject: program, check: `dies ${program}`, expected: 'sigill', actual: programActual(run) };
    if (seen.fidelity !== 'traps') {
      out.checks.push({ ...base, status: 'skip', skipReason: `relies on the CPU trapping instructions above ${seen.level}; this guest's fidelity is ${seen.fidelity}`, needs: 'traps' });
      continue;
    }
    const dev: Deviation = !run || run.missing ? 'not-run' : run.signal && run.signal !== 'SIGILL' ? 'signal' : run.exitCode === 0 ? 'ran' : 'exit';
    out.judge(base, run?.signal === 'SIGILL', dev);
  }
}

function checkLoads(expectation: Expectation, seen: Observation, out: Judge): void {
  for (const [program, want] of Object.entries(expectation.loads ?? {})) {
    const run = seen.programs[program];
    // The hwcaps fixture prints "NAME COPY PATH": the copy is its second word.
    const actual = run && programRuns({ ...run, identity: undefined }) ? (run.firstLine.split(' ')[1] ?? run.firstLine) : programActual(run);
    out.judge({ kind: 'loads', subject: program, check: `loader picks for ${program}`, expected: want, actual }, actual === want, 'other');
  }
}

function checkCurrent(expectation: Expectation, seen: Observation, out: Judge): void {
  for (const name of expectation.current ?? []) {
    const newest = newestRunnable(name, seen.level, seen.available);
    const have = installedOf(seen.installed, name);
    const expected = newest ? formatEvr(newest) : 'nothing available';
    const actual = have.length ? have.map((p) => formatEvr(p)).join(' + ') : 'not installed';
    const ok = newest !== undefined && have.length > 0 && have.every((p) => compareEvr(p, newest) === 0);
    out.judge({ kind: 'current', subject: name, check: `current ${name}`, expected, actual }, ok, have.length === 0 ? 'missing' : have.some((p) => newest && compareEvr(p, newest) < 0) ? 'stale' : 'newer');
  }
}

function checkUpdatesListed(expectation: Expectation, seen: Observation, out: Judge): void {
  if (!expectation.updatesListed) return;
  const want = [...expectation.updatesListed].sort();
  const got = [...(seen.updates ?? [])].sort();
  const missing = want.filter((n) => !got.includes(n));
  out.judge({ kind: 'updates', subject: '', check: 'updates listed', expected: want.join(' ') || 'none', actual: got.join(' ') || 'none' }, missing.length === 0 && got.length === want.length, missing.length ? 'not-listed' : 'extra-listed');
}

function checkDetectedArch(expectation: Expectation, seen: Observation, out: Judge): void {
  if (!expectation.detectedArch) return;
  const want = expectation.detectedArch === 'level' ? rpmArchOf(seen.level) : expectation.detectedArch;
  const failure = seen.detectors?.find((r) => r.detector === seen.detectedBy)?.failure;
  const actual = failure ? `failed: ${failure}` : (seen.detectedArch ?? 'not detected');
  out.judge({ kind: 'detected-arch', subject: seen.detectedBy ?? '', check: 'detected arch', expected: want, actual }, actual === want, failure || !seen.detectedArch ? 'failed' : 'other');
}

function checkDetectors(expectation: Expectation, seen: Observation, out: Judge): void {
  if (!expectation.detectors) return;
  const wanted = expectation.detectors === 'level' ? Object.fromEntries(DETECTORS.map((d) => [d, 'level' as const])) : expectation.detectors;
  for (const [detector, want] of Object.entries(wanted) as [DetectorName, RpmArch | 'level'][]) {
    const r = seen.detectors?.find((x) => x.detector === detector);
    const level = want === 'level' ? seen.level : levelOfArch(want);
    const expected = want === 'level' ? `${seen.level} (${rpmArchOf(seen.level)})` : want;
    const actual = !r ? 'not asked' : r.failure ? `failed: ${r.failure}` : r.level === null ? r.answer : `${r.level} (${r.answer}${r.note ? `; ${r.note}` : ''})`;
    const base = { kind: 'detected-arch' as const, subject: detector, check: `detector ${detector}`, expected, actual };
    // Only a tool that is not there is no answer; one that ran and failed is a failing check.
    if (r && r.level === null && !r.failure) out.checks.push({ ...base, status: 'skip', skipReason: r.note ?? `${detector} is not installed` });
    else out.judge(base, r?.level === level, !r || r.failure ? 'failed' : 'other');
  }
}

function checkRunnable(expectation: Expectation, seen: Observation, out: Judge): void {
  if (!expectation.runnable) return;
  const programs = seen.runnablePrograms ?? [];
  if (programs.length === 0) out.checks.push({ kind: 'runnable', subject: '', check: 'runnable system', expected: 'every installed program runs', actual: "no program of the scenario's packages is installed", status: 'fail', deviation: 'missing' });
  for (const program of programs) out.run({ kind: 'runnable', subject: program, check: `runnable: ${program}` }, seen.programs[program]);
}

/** Every kind of check, in the order their results are reported. */
const CHECKS: readonly Check[] = [checkOutcome, checkInstalled, checkRuns, checkRunsPackage, checkDies, checkLoads, checkCurrent, checkUpdatesListed, checkDetectedArch, checkDetectors, checkRunnable];

export function evaluate(expectation: Expectation, seen: Observation): CheckResult[] {
  const out = new Judge(seen);
  for (const check of CHECKS) check(expectation, seen, out);
  return out.checks;
}

function installedCheck(name: string, want: InstalledState, seen: Observation): CheckResult {
  const have = installedOf(seen.installed, name);
  const actual = have.length ? have.map(evraString).sort().join(' + ') : 'not installed';
  let expected: string;
  if (want === null) expected = 'not installed';
  else if (typeof want === 'string') expected = want;
  else if (Array.isArray(want)) expected = [...(want as readonly string[])].sort().join(' + ');
  else {
    const best = bestVariant(name, seen.level, seen.available);
    expected = best ? evraString(best) : 'not installed';
  }
  const base = { kind: 'installed' as const, subject: name, check: `installed ${name}`, expected, actual };
  if (actual === expected) return { ...base, status: 'pass' };
  return { ...base, status: 'fail', deviation: installedDeviation(name, want, expected, have) };
}

/** How the installed builds differ from the expected: each way a tool can get it wrong is its own deviation. */
export function installedDeviation(name: string, want: InstalledState, expected: string, have: readonly AvailablePackage[]): Deviation {
  if (expected === 'not installed') return 'unexpected';
  if (have.length === 0) return 'missing';
  if (Array.isArray(want)) return 'wrong-set';
  if (have.length > 1) return have.some((p) => evraString(p) === expected) ? 'unexpected' : 'wrong-set';
  const wanted = parseNevra(`${name}-${expected}`);
  const got = have[0]!;
  if (!wanted) return 'wrong-set';
  const order = compareEvr(got, wanted);
  if (order === 0) return 'arch';
  if (compareEvr({ ...got, release: '' }, { ...wanted, release: '' }) === 0) return 'other-build';
  return order < 0 ? 'older' : 'newer';
}
