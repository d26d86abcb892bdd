// What a person watching sees. On a terminal: a status line redrawn in place (cells
// done/total, the ones running, elapsed, ETA) with finished cells printed above it.
// Elsewhere (CI logs): one plain line per finished cell.
import type { Cell } from '../plan/plan.js';
import type { CellResult, Verdict } from '../run/cell.js';
import type { RunResult } from '../run/run-result.js';
import { formatSeconds } from '../util/log.js';
import type { Reporter, RunStart } from './reporter.js';

const MARK: Record<Verdict, string> = { pass: 'PASS ', fail: 'FAIL ', xfail: 'XFAIL', xpass: 'XPASS', skip: 'SKIP ', error: 'ERROR' };

export function cellLine(result: CellResult): string {
  const detail = result.verdict === 'pass' ? '' : result.reason;
  const flaky = result.flaky ? ` (flaky: ${result.attempts} attempts)` : '';
  const rerun = result.verdict === 'fail' || result.verdict === 'error' || result.verdict === 'xpass' ? `\n      rerun: ${result.repro}` : '';
  return `${MARK[result.verdict]} ${result.id.padEnd(42)} ${formatSeconds(result.timings.totalMs).padStart(7)}  ${detail}${flaky}${rerun}`;
}

export function summaryLine(run: RunResult): string {
  const c = run.counts;
  return (
    `${run.cells.length} cells in ${formatSeconds(run.durationMs)}: ${c.pass} passed, ${c.fail} failed, ${c.xfail} xfail, ` +
    `${c.xpass} xpass, ${c.skip} skipped, ${c.error} errors${run.interrupted ? ' (interrupted: partial results)' : ''}`
  );
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
    onCellBegin(cell: Cell) {
      running.add(cell.id);
      status();
    },
    onCellEnd(result: CellResult) {
      running.delete(result.id);
      done++;
      print(cellLine(result));
      for (const issue of result.expiredKnownIssues) print(`      known issue expired on ${issue.expires}: ${issue.tracker}`);
      status();
    },
    onEnd(run: RunResult) {
      if (timer) clearInterval(timer);
      print(`\n${summaryLine(run)}`);
      return undefined;
    },
  };
}
