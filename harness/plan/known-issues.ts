// Known shortfalls of today's tools. A known issue names the cells it covers and, for
// each deviation it explains, the check and how it differs (an x86_64 build where a
// better variant exists, with the expected version). A cell is an expected failure
// only when every failing check is explained by a live issue that covers it; an issue
// that explains nothing in a cell it covers is an unexpected pass. Issues expire, so a
// fixed tool (or a stale list) is noticed. Pure.
import type { LevelName } from '../levels/table.js';
import { ALL_TARGETS } from '../levels/targets.js';
import type { CheckKind, CheckResult, Deviation, KnownIssueRef } from '../results/types.js';
import { REFUSALS, type DriverName } from '../model/package-manager.js';

/** Says explicitly that a matcher covers every subject, or every action: `deviation.installedArch(any, 'install')`. */
export const any: Any = Object.freeze({ any: true as const });
export interface Any {
  readonly any: true;
}
const isAny = (v: unknown): v is Any => typeof v === 'object' && v !== null && (v as Any).any === true;

export interface DeviationMatcher {
  readonly check: CheckKind;
  /** The package or program ('' for the step's outcome and the updates listed), or `any`, said explicitly. */
  readonly subject: string | Any;
  readonly deviation: Deviation | readonly Deviation[];
  /** Only checks of steps of this action (install, upgrade, install-file, move-to...), or `any`, said explicitly. */
  readonly action: string | Any;
  /** Outcome checks: only refusals for this reason (incompatible-arch, not-found, conflict, dependency, or 'unrecognised'). */
  readonly refusal?: string;
}

export interface KnownIssue extends KnownIssueRef {
  /** Scenario ids the issue covers; 'prefix*' covers every id that starts with prefix ('*': any). */
  readonly scenarios: readonly string[];
  readonly drivers?: readonly DriverName[];
  /** The levels the CPU meets (a near miss "v3-fma" meets v2). */
  readonly levels?: readonly LevelName[];
  /** CPU target names ("v3-fma", "v3-*" for every near miss of v3, "v3" for the exact level only). */
  readonly targets?: readonly string[];
  /** The deviations it explains; a failing check matching none of them is a failure. */
  readonly explains: readonly DeviationMatcher[];
  /** Where it was written ("known-issues.ts: [2]"), for messages; the loader sets it. */
  readonly source?: string;
}

export interface CellCoordinates {
  readonly scenario: string;
  readonly level: LevelName;
  /** The CPU target's name; the level's name when absent. */
  readonly target?: string;
  readonly driver: string;
}

/** The known issues covering a cell: live ones, and those that would but expired on `today` (YYYY-MM-DD). */
export function issuesCovering(cell: CellCoordinates, issues: readonly KnownIssue[], today: string): { live: KnownIssue[]; expired: KnownIssue[] } {
  const covering = issues.filter(
    (i) =>
      i.scenarios.some((pattern) => scenarioMatches(pattern, cell.scenario)) &&
      (!i.drivers || (i.drivers as readonly string[]).includes(cell.driver)) &&
      (!i.levels || i.levels.includes(cell.level)) &&
      (!i.targets || i.targets.some((pattern) => scenarioMatches(pattern, cell.target ?? cell.level))),
  );
  return { live: covering.filter((i) => i.expires >= today), expired: covering.filter((i) => i.expires < today) };
}

/** A scenario id, or a prefix ending in '*' ('variant-audit.*'), or '*' for any. */
export function scenarioMatches(pattern: string, id: string): boolean {
  return pattern.endsWith('*') ? id.startsWith(pattern.slice(0, -1)) : pattern === id;
}

/** True when `matcher` explains the failing `check` of a step whose action is `action`. */
export function matcherExplains(matcher: DeviationMatcher, check: CheckResult, action: string): boolean {
  if (check.status !== 'fail' || !check.deviation) return false;
  if (matcher.check !== check.kind) return false;
  if (!isAny(matcher.subject) && matcher.subject !== check.subject) return false;
  if (!isAny(matcher.action) && matcher.action !== action) return false;
  if (matcher.refusal !== undefined && matcher.refusal !== check.refusal) return false;
  const deviations: readonly Deviation[] = typeof matcher.deviation === 'string' ? [matcher.deviation] : matcher.deviation;
  return deviations.includes(check.deviation);
}

export function issueExplains(issue: KnownIssue, check: CheckResult, action: string): boolean {
  return issue.explains.some((m) => matcherExplains(m, check, action));
}

export const refOf = (issue: KnownIssue): KnownIssueRef => ({ id: issue.id, reason: issue.reason, tracker: issue.tracker, expires: issue.expires });

/** Problems in a list of known issues (duplicate ids, no matcher, a bad date), each naming the entry. */
export function validateKnownIssues(issues: readonly KnownIssue[], where: string): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [i, issue] of issues.entries()) {
    const at = `${where}[${i}] (${issue.id || 'no id'})`;
    if (!issue.id) problems.push(`${at}: id is empty`);
    if (seen.has(issue.id)) problems.push(`${at}: id '${issue.id}' is used twice`);
    seen.add(issue.id);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(issue.expires)) problems.push(`${at}: expires '${issue.expires}' is not a YYYY-MM-DD date`);
    if (!/^https?:\/\//.test(issue.tracker)) problems.push(`${at}: tracker '${issue.tracker}' is not a URL`);
    if (issue.explains.length === 0) problems.push(`${at}: explains no deviation; name the check and how it differs`);
    problems.push(...matcherProblems(issue, at));
    if (issue.scenarios.length === 0) problems.push(`${at}: covers no scenario`);
    for (const pattern of issue.targets ?? []) {
      if (!ALL_TARGETS.some((t) => scenarioMatches(pattern, t.name))) problems.push(`${at}: targets: '${pattern}' names no CPU target; known: ${ALL_TARGETS.map((t) => t.name).join(', ')}`);
    }
  }
  return problems;
}

/**
 * Outcomes a tool cannot show at once in one check: a matcher (or two matchers of one
 * issue that can meet the same check) explaining both hedges. Split the issue by level
 * or target, or name the one outcome the tool has.
 */
const EXCLUSIVE: readonly (readonly [Deviation, readonly Deviation[]])[] = [
  // installed: nothing, or something.
  ['missing', ['arch', 'older', 'newer', 'other-build', 'unexpected', 'wrong-set']],
  ['older', ['newer']],
  // outcome: refused, or not.
  ['succeeded', ['refused', 'wrong-refusal']],
  // runs, runnable, dies: did not run at all, or ran and ended somehow.
  ['not-run', ['sigill', 'signal', 'exit', 'output', 'ran', 'above-level']],
  ['missing', ['sigill', 'signal', 'exit', 'output', 'ran', 'above-level']],
  ['not-listed', ['extra-listed']],
];
const exclusive = (a: Deviation, b: Deviation) => EXCLUSIVE.some(([x, ys]) => (x === a && ys.includes(b)) || (x === b && ys.includes(a)));
const deviationsOf = (m: DeviationMatcher): readonly Deviation[] => (typeof m.deviation === 'string' ? [m.deviation] : m.deviation);
const overlaps = (a: string | Any, b: string | Any) => isAny(a) || isAny(b) || a === b;
const show = (v: string | Any) => (isAny(v) ? 'any' : `'${v}'`);

/** Matchers that do not say what they explain (no subject or action), or that explain exclusive outcomes of one check. */
function matcherProblems(issue: KnownIssue, at: string): string[] {
  const problems: string[] = [];
  for (const [j, m] of issue.explains.entries()) {
    if (m.subject === undefined) problems.push(`${at}: explains[${j}] (${m.check}): name its subject (the package or program) or say any`);
    if (m.action === undefined) problems.push(`${at}: explains[${j}] (${m.check}): name the step's action (install, upgrade...) or say any`);
    if (m.check === 'outcome' && deviationsOf(m).some((d) => d === 'refused' || d === 'wrong-refusal') && m.refusal === undefined) {
      problems.push(`${at}: explains[${j}] (outcome): name the refusal's reason (${[...REFUSALS, 'unrecognised'].join(', ')}): a refusal for another reason is another bug`);
    }
  }
  const seen = new Set<string>();
  for (const [j, a] of issue.explains.entries()) {
    for (const [k, b] of issue.explains.entries()) {
      if (k < j || a.check !== b.check || a.subject === undefined || b.subject === undefined || !overlaps(a.subject, b.subject) || !overlaps(a.action ?? any, b.action ?? any)) continue;
      for (const x of deviationsOf(a)) {
        for (const y of deviationsOf(b)) {
          const key = [a.check, ...[x, y].sort()].join(' ');
          if (!exclusive(x, y) || seen.has(key)) continue;
          seen.add(key);
          const where = j === k ? `explains[${j}]` : `explains[${j}] and [${k}]`;
          problems.push(`${at}: ${where} (${a.check} ${show(a.subject)}) combine exclusive outcomes '${x}' and '${y}': a tool shows one; name the one it has, or split the issue by level or target`);
        }
      }
    }
  }
  return problems;
}
