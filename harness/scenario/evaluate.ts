// Compares what a step produced with what the scenario expects. Pure: every check
// names what it expected and what it saw.
import { levelIndex, type LevelName } from '../levels/table.js';
import { archLevel, evrOf, type Expectation, type PackageBuild } from './types.js';

/** What the harness saw after a step. */
export interface Observation {
  /** Exit status of the step's package-manager command (undefined: the step ran none). */
  readonly exitCode?: number | null;
  /** Installed packages, "NAME-VERSION-RELEASE.ARCH". */
  readonly installed: readonly string[];
  /** program → its first output line, or 'sigill', 'signal SIGxxx', 'exit N', 'not installed'. */
  readonly runs: Readonly<Record<string, string>>;
  /** hwcaps program → the copy it reports. */
  readonly loads: Readonly<Record<string, string>>;
  readonly updates?: readonly string[];
  readonly detectedArch?: string | undefined;
}

export interface CheckResult {
  readonly check: string;
  readonly expected: string;
  readonly actual: string;
  readonly ok: boolean;
}

/** Splits "name-1.0-1.x86_64" into name and "1.0-1.x86_64", given the names in play. */
export function installedOf(installed: readonly string[], name: string): string[] {
  return installed.flatMap((nevra) => {
    const m = /^(.+)-([^-]+-[^-]+\.[^.]+)$/.exec(nevra);
    return m && m[1] === name ? [m[2]!] : [];
  });
}

function compareSegments(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}

/** The newest VERSION-RELEASE of `name` among `available` that a CPU at `level` can run. */
export function newestRunnable(name: string, level: LevelName, available: readonly PackageBuild[]): string | undefined {
  const runnable = available.filter((b) => {
    const needs = archLevel(b.arch);
    return b.name === name && (needs === null || levelIndex(needs) <= levelIndex(level));
  });
  return runnable.map(evrOf).sort(compareSegments).at(-1);
}

export function evaluate(expectation: Expectation, seen: Observation, level: LevelName, available: readonly PackageBuild[]): CheckResult[] {
  const checks: CheckResult[] = [];
  const add = (check: string, expected: string, actual: string, ok = expected === actual) => checks.push({ check, expected, actual, ok });
  if (expectation.succeeds !== undefined) {
    const code = seen.exitCode;
    const actual = code === undefined ? 'not run' : code === 0 ? '0' : `non-zero (${code === null ? 'killed by a signal' : code})`;
    const ok = code !== undefined && (expectation.succeeds ? code === 0 : code !== 0);
    add('exit status', expectation.succeeds ? '0' : 'non-zero', actual, ok);
  }
  for (const [name, want] of Object.entries(expectation.installed ?? {})) {
    const have = installedOf(seen.installed, name);
    add(`installed ${name}`, want ?? 'not installed', have.length ? have.join(' + ') : 'not installed');
  }
  for (const [program, want] of Object.entries(expectation.runs ?? {})) add(`runs ${program}`, want, seen.runs[program] ?? 'not run');
  for (const [program, want] of Object.entries(expectation.loads ?? {})) add(`loader picks for ${program}`, want, seen.loads[program] ?? 'not run');
  for (const name of expectation.notStale ?? []) {
    const newest = newestRunnable(name, level, available);
    const have = installedOf(seen.installed, name).map((v) => v.replace(/\.[^.]+$/, ''));
    add(`not stale: ${name}`, newest ?? 'nothing available', have.length ? have.join(' + ') : 'not installed');
  }
  if (expectation.updatesListed) add('updates listed', [...expectation.updatesListed].sort().join(' ') || 'none', (seen.updates ?? []).join(' ') || 'none');
  if (expectation.detectedArch) add('detected arch', expectation.detectedArch, seen.detectedArch ?? 'not detected');
  return checks;
}
