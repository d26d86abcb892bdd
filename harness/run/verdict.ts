// Turns a cell's checks into its verdict, with the known issues that cover it. The
// rules, each earned by evidence:
// - a failing check that no live known issue explains: fail;
// - failing checks, every one explained: xfail (each check names the issue);
// - a live known issue that explains nothing in a cell it covers: xpass (remove or narrow it);
// - checks that could not be judged on this guest (a trap-reliant check at fidelity
//   masks-only), and nothing failed: skip, with the reason;
// - otherwise: pass.
// Infrastructure problems never reach here: they end the cell as an error first,
// whatever the known issues say. Pure.
import { issueExplains, refOf, type KnownIssue } from '../plan/known-issues.js';
import type { CheckResult, KnownIssueRef, StepRecord, Verdict } from '../results/types.js';

export interface Judgement {
  readonly verdict: Verdict;
  readonly reason: string;
  /** The steps with each failing check marked with the issue that explains it. */
  readonly steps: readonly StepRecord[];
  /** Issues that explained checks (xfail) or explained nothing (xpass). */
  readonly knownIssues: readonly KnownIssueRef[];
}

const where = (step: StepRecord, check: CheckResult) => `step ${step.index} (${step.title}): ${check.check}: expected ${check.expected}, got ${check.actual}`;

export function judgeCell(steps: readonly StepRecord[], live: readonly KnownIssue[]): Judgement {
  const used = new Set<KnownIssue>();
  const unexplained: string[] = [];
  const explained: string[] = [];
  const skipped: string[] = [];
  const marked = steps.map((step) => ({
    ...step,
    checks: step.checks.map((check) => {
      if (check.status === 'skip') skipped.push(`step ${step.index} (${step.title}): ${check.check} not judged: ${check.skipReason ?? 'skipped'}`);
      if (check.status !== 'fail') return check;
      const issue = live.find((i) => issueExplains(i, check, step.action));
      if (!issue) {
        unexplained.push(where(step, check));
        return check;
      }
      used.add(issue);
      explained.push(where(step, check));
      return { ...check, explainedBy: issue.id };
    }),
  }));
  const idle = live.filter((i) => !used.has(i));
  if (unexplained.length > 0) {
    const more = unexplained.length > 1 ? ` (and ${unexplained.length - 1} more failing check${unexplained.length > 2 ? 's' : ''})` : '';
    return { verdict: 'fail', reason: `${unexplained[0]}${more}`, steps: marked, knownIssues: [] };
  }
  // An issue may explain a check that could not be judged here: only a cell with every check judged can show it stale.
  if (idle.length > 0 && skipped.length === 0) {
    const issue = idle[0]!;
    const what = explained.length ? 'explains none of its failing checks' : 'found nothing to explain: every check passed';
    return {
      verdict: 'xpass',
      reason: `known issue ${issue.id} covers this cell but ${what} (${issue.tracker}): remove it or narrow what it covers`,
      steps: marked,
      knownIssues: idle.map(refOf),
    };
  }
  if (explained.length > 0) {
    const issues = [...used];
    return {
      verdict: 'xfail',
      reason: `${explained[0]}${explained.length > 1 ? ` (+${explained.length - 1} more)` : ''} — known issue ${issues.map((i) => `${i.id}: ${i.reason} (${i.tracker})`).join('; ')}`,
      steps: marked,
      knownIssues: issues.map(refOf),
    };
  }
  if (skipped.length > 0) return { verdict: 'skip', reason: skipped[0]!, steps: marked, knownIssues: [] };
  return { verdict: 'pass', reason: 'every check passed', steps: marked, knownIssues: [] };
}
