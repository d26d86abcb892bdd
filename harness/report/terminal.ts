// What a person watching sees. On a terminal: a status line redrawn in place (cells
// done/total, counts so far, the ones running, elapsed, ETA) with finished cells
// printed above it. Elsewhere (CI logs): plain lines. A run of up to EVERY_CELL_UP_TO
// cells prints a line per finished cell; a larger one (a compose audit: thousands)
// prints only the cells that need attention (fail, xpass, error) as they finish and,
// off a terminal, a count line every twentieth of the run. The summary names expired
// known issues and levels the host could not provide, and at scale the failing cells.
import { summaryLine } from '../results/summary.js';
import type { CellRef, CellResult, RunResult, Verdict } from '../results/types.js';
import { UsageError } from '../util/errors.js';
import { formatSeconds } from '../util/log.js';
import { slowerBackendLine } from '../results/summary.js';
import type { Reporter, RunStart } from './reporter.js';

const MARK: Record<Verdict, string> = { pass: 'PASS ', fail: 'FAIL ', xfail: 'XFAIL', xpass: 'XPASS', skip: 'SKIP ', error: 'ERROR' };

/** Up to this many cells a run prints a line per finished cell; beyond, only the ones that need attention. */
export const EVERY_CELL_UP_TO = 300;
/** At scale, the closing lines name at most this many cells that need attention (the reports have all). */
export const LISTED_AT_MOST = 50;

/** Which finished cells get a line: 'all', 'failures' (fail, xpass, error), or 'auto' (all up to EVERY_CELL_UP_TO cells). */
export type CellLines = 'all' | 'failures' | 'auto';
export const CELL_LINES: readonly CellLines[] = ['all', 'failures', 'auto'];

export interface TerminalOptions {
  readonly cells?: CellLines;
}

/** The terminal reporter's options as a configuration gives them (`['terminal', { cells: 'all' }]`). */
export function terminalOptions(options: Readonly<Record<string, unknown>>, where: string): TerminalOptions {
  const cells = options.cells;
  if (cells === undefined) return {};
  if (typeof cells !== 'string' || !(CELL_LINES as readonly string[]).includes(cells)) {
    throw new UsageError(`${where}: cells: '${String(cells)}' is not one of ${CELL_LINES.join(', ')}`);
  }
  return { cells: cells as CellLines };
}

/** A cell a person must look at: it failed, passed a known issue, or errored. */
export const needsAttention = (cell: Pick<CellResult, 'verdict'>): boolean => cell.verdict === 'fail' || cell.verdict === 'xpass' || cell.verdict === 'error';

export function cellLine(result: CellResult): string {
  const detail = result.verdict === 'pass' ? '' : result.reason;
  const earlier = (result.earlierAttempts ?? []).map((a) => `attempt ${a.attempt}: ${a.reason}`).join('; ');
  const flaky = result.flaky ? ` (flaky: ${result.attempts} attempts${earlier ? `; ${earlier}` : ''})` : earlier ? ` (after ${earlier})` : '';
  const rerun = result.verdict === 'fail' || result.verdict === 'error' || result.verdict === 'xpass' ? `\n      rerun: ${result.repro}` : '';
  return `${MARK[result.verdict]} ${result.id.padEnd(42)} ${formatSeconds(result.timings.totalMs).padStart(7)}  ${detail}${flaky}${rerun}`;
}

/** The verdicts so far, the ones that occurred: "1180 pass, 3 fail, 12 xfail". */
export function countsSoFar(counts: Readonly<Record<Verdict, number>>): string {
  return (Object.entries(counts) as [Verdict, number][])
    .filter(([, n]) => n > 0)
    .map(([v, n]) => `${n} ${v}`)
    .join(', ');
}

/** The closing lines: the summary, then what needs attention beyond the verdicts; `listFailures` names the failing cells (at scale, where they were not each printed). */
export function closingLines(run: RunResult, listFailures = false): string[] {
  const lines = [summaryLine(run)];
  for (const issue of run.expiredKnownIssues) {
    lines.push(`expired known issue ${issue.id} (expired ${issue.expires}; no longer excuses any cell): ${issue.tracker} — check the tool and remove or renew the entry`);
  }
  for (const issue of run.idleKnownIssues ?? []) {
    lines.push(`known issue ${issue.id} explained nothing in this run (every cell it covers passed or failed otherwise): ${issue.tracker} — narrow or remove the entry`);
  }
  for (const { level, reason } of run.unavailableLevels) lines.push(`level ${level} was not provided: ${reason}`);
  for (const slower of run.slowerBackends ?? []) lines.push(slowerBackendLine(slower));
  const flaky = run.cells.filter((c) => c.flaky);
  for (const cell of flaky.slice(0, listFailures ? LISTED_AT_MOST : undefined)) lines.push(`flaky: ${cell.id} — ${(cell.earlierAttempts ?? []).map((a) => `attempt ${a.attempt}: ${a.reason}`).join('; ')}`);
  if (listFailures && flaky.length > LISTED_AT_MOST) lines.push(`… and ${flaky.length - LISTED_AT_MOST} more flaky cells (every one is in the reports)`);
  if (listFailures) {
    const failing = run.cells.filter(needsAttention);
    for (const cell of failing.slice(0, LISTED_AT_MOST)) lines.push(`${MARK[cell.verdict]} ${cell.id}: ${cell.reason}`);
    if (failing.length > LISTED_AT_MOST) lines.push(`… and ${failing.length - LISTED_AT_MOST} more failing cells (every one is in the reports)`);
  }
  return lines;
}

export function terminalReporter(stream: NodeJS.WriteStream = process.stdout, options: TerminalOptions = {}): Reporter {
  const live = stream.isTTY === true;
  let total = 0;
  let done = 0;
  let started = 0;
  let everyCell = true;
  /** Off a terminal at scale: the next count of finished cells that prints a count line. */
  let nextMark = Infinity;
  let markEvery = 1;
  const counts: Record<Verdict, number> = { pass: 0, fail: 0, xfail: 0, xpass: 0, skip: 0, error: 0 };
  const running = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const progress = () => {
    const elapsed = performance.now() - started;
    const eta = done > 0 ? ((total - done) * elapsed) / done : undefined;
    const tally = everyCell ? '' : ` ${countsSoFar(counts) || 'none finished'} ·`;
    return `[${done}/${total}]${tally} ${formatSeconds(elapsed)} elapsed${eta !== undefined ? `, ~${formatSeconds(eta)} left` : ''}`;
  };
  const status = () => {
    if (!live) return;
    const line = `${progress()} · running: ${[...running].join(', ')}`;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
  };
  const print = (text: string) => stream.write(live ? `\r\x1b[2K${text}\n` : `${text}\n`);
  return {
    name: 'terminal',
    onBegin(start: RunStart) {
      total = start.cells.length;
      started = performance.now();
      everyCell = options.cells === 'all' || ((options.cells ?? 'auto') === 'auto' && total <= EVERY_CELL_UP_TO);
      markEvery = Math.max(1, Math.ceil(total / 20));
      nextMark = everyCell || live ? Infinity : markEvery;
      print(`levelgate: ${total} cells, ${start.workers} at a time${start.shard ? `, shard ${start.shard}` : ''}${everyCell ? '' : ' (a line per failing cell and counts as it goes; every cell is in the reports)'}`);
      if (live) timer = setInterval(status, 1000).unref();
    },
    onCellBegin(cell: CellRef) {
      running.add(cell.id);
      status();
    },
    onCellEnd(result: CellResult) {
      running.delete(result.id);
      done++;
      counts[result.verdict]++;
      if (everyCell || needsAttention(result)) {
        print(cellLine(result));
        for (const issue of result.expiredKnownIssues) print(`      known issue ${issue.id} expired on ${issue.expires}: ${issue.tracker}`);
      }
      if (done >= nextMark) {
        print(progress());
        nextMark = done >= total ? Infinity : Math.min(total, nextMark + markEvery);
      }
      status();
    },
    onEnd(run: RunResult) {
      if (timer) clearInterval(timer);
      print('');
      for (const line of closingLines(run, !everyCell)) print(line);
      return undefined;
    },
  };
}
