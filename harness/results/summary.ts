// What a whole run adds up to: the count per verdict and of flaky cells, the expired
// known issues, and the one exit code a CI job acts on.
import type { CellResult, KnownIssueRef, RunResult, Verdict } from './types.js';
import { VERDICTS } from './types.js';

export function countVerdicts(cells: readonly CellResult[]): Record<Verdict, number> {
  return Object.fromEntries(VERDICTS.map((v) => [v, cells.filter((c) => c.verdict === v).length])) as Record<Verdict, number>;
}

/** The cells a retry settled after an emulator error. */
export const countFlaky = (cells: readonly CellResult[]): number => cells.filter((c) => c.flaky).length;

/** Every distinct expired known issue of the cells, by id. */
export function expiredIssuesOf(cells: readonly CellResult[]): KnownIssueRef[] {
  const byId = new Map<string, KnownIssueRef>();
  for (const cell of cells) for (const issue of cell.expiredKnownIssues) byId.set(issue.id, issue);
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Live known issues that covered judged cells of the run (pass, fail, xfail, xpass) and
 * explained no check in any cell: an entry that excuses nothing over a whole run is
 * stale or too loose, whatever each cell said.
 */
export function idleIssuesOf(cells: readonly CellResult[]): KnownIssueRef[] {
  const judged = cells.filter((c) => c.verdict !== 'skip' && c.verdict !== 'error');
  const used = new Set(judged.flatMap((c) => c.steps.flatMap((s) => s.checks.flatMap((k) => (k.explainedBy ? [k.explainedBy] : [])))));
  const byId = new Map<string, KnownIssueRef>();
  for (const cell of judged) for (const issue of cell.coveringKnownIssues ?? []) if (!used.has(issue.id)) byId.set(issue.id, issue);
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

export const EXIT_CODES = {
  /** Every cell that ran passed or is a live known issue (skips allowed, but at least one cell ran). */
  ok: 0,
  /** A cell failed, or a known issue passed (xpass: remove the entry), or a cell was flaky under --fail-on-flaky. */
  failed: 1,
  usage: 2,
  /** A cell errored (infrastructure: a guest, a query, a repository that did not load; a required level missing). */
  infrastructure: 3,
  /** Nothing was verified: every cell was skipped, or the level cannot be provided on this host (automake's SKIP). */
  nothingRan: 77,
  interrupted: 130,
} as const;

export interface ExitOptions {
  /** A cell a retry settled after an emulator error fails the run (--fail-on-flaky). */
  readonly failOnFlaky?: boolean;
}

/** The gate's exit code from its verdicts. */
export function exitCodeOf(run: Pick<RunResult, 'counts'> & { readonly flaky?: number }, options: ExitOptions = {}): number {
  const c = run.counts;
  if (c.fail > 0 || c.xpass > 0) return EXIT_CODES.failed;
  if (c.error > 0) return EXIT_CODES.infrastructure;
  if (options.failOnFlaky && (run.flaky ?? 0) > 0) return EXIT_CODES.failed;
  if (c.pass + c.xfail === 0) return EXIT_CODES.nothingRan;
  return EXIT_CODES.ok;
}

/** One line for the end of a run. */
export function summaryLine(run: RunResult): string {
  const c = run.counts;
  const ran = c.pass + c.fail + c.xfail + c.xpass + c.error;
  return (
    `${run.cells.length} cells in ${(run.durationMs / 1000).toFixed(1)} s: ${c.pass} passed, ${c.fail} failed, ${c.xfail} xfail, ` +
    `${c.xpass} xpass, ${c.skip} skipped, ${c.error} errors` +
    (run.flaky > 0 ? `, ${run.flaky} flaky (settled by a retry after an emulator error)` : '') +
    (run.interrupted ? ' (interrupted: partial results)' : '') +
    (ran === 0 && !run.interrupted ? ' — nothing was verified: every cell was skipped' : '')
  );
}

/** Why a level runs under a slower backend than it could, for the summary. */
export function slowerBackendLine(slower: NonNullable<RunResult['slowerBackends']>[number]): string {
  return `level ${slower.level} runs under ${slower.backend} because a faster backend did not answer its probe (${slower.reason}); that probe is asked again next run`;
}
