// What a person watching sees. On a terminal: a status line redrawn in place (cells
// done/total, the ones running, elapsed, ETA) with finished cells printed above it.
// Elsewhere (CI logs): one plain line per finished cell. The summary names expired
// known issues and levels the host could not provide.
import { summaryLine } from '../results/summary.js';
import type { CellRef, CellResult, RunResult, Verdict } from '../results/types.js';
import { formatSeconds } from '../util/log.js';
import { slowerBackendLine } from '../results/summary.js';
import type { Reporter, RunStart } from './reporter.js';

const MARK: Record<Verdict, string> = { pass: 'PASS ', fail: 'FAIL ', xfail: 'XFAIL', xpass: 'XPASS', skip: 'SKIP ', error: 'ERROR' };

export function cellLine(result: CellResult): string {
  const detail = result.verdict === 'pass' ? '' : result.reason;
  const earlier = (result.earlierAttempts ?? []).map((a) => `attempt ${a.attempt}: ${a.reason}`).join('; ');
  const flaky = result.flaky ? ` (flaky: ${result.attempts} attempts${earlier ? `; ${earlier}` : ''})` : earlier ? ` (after ${earlier})` : '';
  const rerun = result.verdict === 'fail' || result.verdict === 'error' || result.verdict === 'xpass' ? `\n      rerun: ${result.repro}` : '';
  return `${MARK[result.verdict]} ${result.id.padEnd(42)} ${formatSeconds(result.timings.totalMs).padStart(7)}  ${detail}${flaky}${rerun}`;
}

/** The closing lines: the summary, then what needs attention beyond the verdicts. */
export function closingLines(run: RunResult): string[] {
  const lines = [summaryLine(run)];
  for (const issue of run.expiredKnownIssues) {
    lines.push(`expired known issue ${issue.id} (expired ${issue.expires}; no longer excuses any cell): ${issue.tracker} — check the tool and remove or renew the entry`);
  }
  for (const issue of run.idleKnownIssues ?? []) {
    lines.push(`known issue ${issue.id} explained nothing in this run (every cell it covers passed or failed otherwise): ${issue.tracker} — narrow or remove the entry`);
  }
  for (const { level, reason } of run.unavailableLevels) lines.push(`level ${level} was not provided: ${reason}`);
  for (const slower of run.slowerBackends ?? []) lines.push(slowerBackendLine(slower));
  for (const cell of run.cells.filter((c) => c.flaky)) lines.push(`flaky: ${cell.id} — ${(cell.earlierAttempts ?? []).map((a) => `attempt ${a.attempt}: ${a.reason}`).join('; ')}`);
  return lines;
}

export function terminalReporter(stream: NodeJS.WriteStream = process.stdout): Reporter {
  const live = stream.isTTY === true;
  let total = 0;
  let done = 0;
  let started = 0;
  const running = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const status = () => {
    if (!live) return;
    const elapsed = performance.now() - started;
    const eta = done > 0 ? ((total - done) * elapsed) / done : undefined;
    const line = `[${done}/${total}] ${formatSeconds(elapsed)} elapsed${eta !== undefined ? `, ~${formatSeconds(eta)} left` : ''} · running: ${[...running].join(', ')}`;
    stream.write(`\r\x1b[2K${line.slice(0, (stream.columns ?? 120) - 1)}`);
  };
  const print = (text: string) => stream.write(live ? `\r\x1b[2K${text}\n` : `${text}\n`);
  return {
    name: 'terminal',
    onBegin(start: RunStart) {
      total = start.cells.length;
      started = performance.now();
      print(`levelgate: ${total} cells, ${start.workers} at a time${start.shard ? `, shard ${start.shard}` : ''}`);
      if (live) timer = setInterval(status, 1000).unref();
    },
    onCellBegin(cell: CellRef) {
      running.add(cell.id);
      status();
    },
    onCellEnd(result: CellResult) {
      running.delete(result.id);
      done++;
      print(cellLine(result));
      for (const issue of result.expiredKnownIssues) print(`      known issue ${issue.id} expired on ${issue.expires}: ${issue.tracker}`);
      status();
    },
    onEnd(run: RunResult) {
      if (timer) clearInterval(timer);
      print('');
      for (const line of closingLines(run)) print(line);
      return undefined;
    },
  };
}
