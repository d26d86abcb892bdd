// The result of a whole run, as every reporter receives it and as gate.json stores it.
import type { CellResult, Verdict } from './cell.js';

export const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'xfail', 'xpass', 'skip', 'error'];

export interface RunResult {
  readonly tool: 'levelgate';
  readonly startedAt: string;
  readonly durationMs: number;
  /** Stopped by Ctrl-C or SIGTERM: cells not run are listed as skipped "not run". */
  readonly interrupted: boolean;
  readonly hostname: string;
  readonly image: string;
  readonly fixtures: string;
  /** "2/4" when this run is one shard of several; absent for a merged or whole run. */
  readonly shard?: string;
  readonly workers: number;
  readonly counts: Readonly<Record<Verdict, number>>;
  readonly cells: readonly CellResult[];
}

export function countVerdicts(cells: readonly CellResult[]): Record<Verdict, number> {
  return Object.fromEntries(VERDICTS.map((v) => [v, cells.filter((c) => c.verdict === v).length])) as Record<Verdict, number>;
}

/** 0 all good (passes, known issues, skips); 1 a failure or an unexpected pass; 3 an error. */
export function exitCodeOf(run: Pick<RunResult, 'counts'>): 0 | 1 | 3 {
  if (run.counts.fail > 0 || run.counts.xpass > 0) return 1;
  if (run.counts.error > 0) return 3;
  return 0;
}
