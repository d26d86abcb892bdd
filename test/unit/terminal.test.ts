// The terminal reporter at scale: a line per cell for a small run, only the cells that
// need attention and count lines for thousands, the failing cells named at the end.
import { Writable } from 'node:stream';
import test from 'ava';
import { EVERY_CELL_UP_TO, LISTED_AT_MOST, terminalOptions, terminalReporter, type TerminalOptions } from '../../harness/report/terminal.js';
import type { CellResult } from '../../harness/results/types.js';
import { cellResult, runResult } from '../fixtures/results.js';

/** Runs the terminal reporter over the cells, off a terminal (as in CI), and returns what it printed. */
function printed(cells: CellResult[], options: TerminalOptions = {}): string[] {
  let text = '';
  const stream = new Writable({ write: (chunk, _enc, done) => ((text += String(chunk)), done()) }) as unknown as NodeJS.WriteStream;
  const reporter = terminalReporter(stream, options);
  reporter.onBegin!({ cells, workers: 2 });
  for (const cell of cells) {
    reporter.onCellBegin!(cell);
    reporter.onCellEnd!(cell);
  }
  void reporter.onEnd!(runResult(cells));
  return text.split('\n');
}

const many = (n: number, failing: (i: number) => boolean): CellResult[] =>
  Array.from({ length: n }, (_, i) => cellResult(failing(i) ? 'fail' : 'pass', { id: `variant-audit.pkg${i}[v3,dnf5]` }));

test('a small run prints a line per finished cell', (t) => {
  const lines = printed(many(3, (i) => i === 1));
  t.is(lines.filter((l) => /^PASS {2}variant-audit\.pkg\d\[v3,dnf5\]/.test(l)).length, 2);
  t.is(lines.filter((l) => /^FAIL {2}variant-audit\.pkg1\[v3,dnf5\]/.test(l)).length, 1);
  t.is(lines[0], 'levelgate: 3 cells, 2 at a time');
});

test('thousands of cells: no line per passing cell, a count line every twentieth, failing cells as they finish and named at the end', (t) => {
  const n = 4000;
  const lines = printed(many(n, (i) => i % 1000 === 7));
  t.is(lines[0], 'levelgate: 4000 cells, 2 at a time (a line per failing cell and counts as it goes; every cell is in the reports)');
  t.is(lines.filter((l) => l.startsWith('PASS ')).length, 0);
  t.is(lines.filter((l) => /^FAIL {2}variant-audit\.pkg\d+\[v3,dnf5\] +[\d.]+ s {2}step 2/.test(l)).length, 4);
  const counts = lines.filter((l) => /^\[\d+\/4000\]/.test(l));
  t.is(counts.length, 20);
  t.regex(counts[0]!, /^\[200\/4000\] 199 pass, 1 fail · [\d.]+ s elapsed, ~[\d.]+ s left$/);
  t.regex(counts.at(-1)!, /^\[4000\/4000\] 3996 pass, 4 fail · /);
  // The closing lines name the failing cells, once each, with their reason.
  const closing = lines.slice(lines.indexOf('') + 1);
  t.regex(closing[0]!, /^4000 cells in 60\.0 s: 3996 passed, 4 failed/);
  t.deepEqual(closing.filter((l) => l.startsWith('FAIL ')).map((l) => l.split(':')[0]), [7, 1007, 2007, 3007].map((i) => `FAIL  variant-audit.pkg${i}[v3,dnf5]`));
  t.true(lines.length < 60, `${lines.length} lines`);
});

test('at scale the closing list stops after LISTED_AT_MOST cells and says how many more', (t) => {
  const lines = printed(many(EVERY_CELL_UP_TO + 100, (i) => i % 2 === 0));
  const closing = lines.slice(lines.indexOf('') + 1);
  t.is(closing.filter((l) => l.startsWith('FAIL ')).length, LISTED_AT_MOST);
  t.true(closing.includes(`… and ${(EVERY_CELL_UP_TO + 100) / 2 - LISTED_AT_MOST} more failing cells (every one is in the reports)`));
});

test("cells: 'all' prints every cell at any size; 'failures' only the failing ones; a bad value names the field", (t) => {
  const all = printed(many(EVERY_CELL_UP_TO + 1, () => false), { cells: 'all' });
  t.is(all.filter((l) => l.startsWith('PASS ')).length, EVERY_CELL_UP_TO + 1);
  const failures = printed(many(5, (i) => i === 3), { cells: 'failures' });
  t.deepEqual(failures.filter((l) => /^(PASS|FAIL) /.test(l)).map((l) => l.slice(0, 33)), ['FAIL  variant-audit.pkg3[v3,dnf5]', 'FAIL  variant-audit.pkg3[v3,dnf5]']);
  t.deepEqual(terminalOptions({ cells: 'failures' }, 'reporters[0]'), { cells: 'failures' });
  t.throws(() => terminalOptions({ cells: 'some' }, 'reporters[0]'), { message: "reporters[0]: cells: 'some' is not one of all, failures, auto" });
});
