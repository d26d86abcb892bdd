import test from 'ava';
import { runWithRetries } from '../../harness/run/gate-run.js';
import type { CellResult, Verdict } from '../../harness/results/types.js';
import { cellResult } from '../fixtures/results.js';

const limits = (overrides: Partial<{ cellTimeoutMs: number; retries: number; signal: AbortSignal }> = {}) => ({
  cellTimeoutMs: 10_000,
  retries: 1,
  signal: new AbortController().signal,
  ...overrides,
});

function attempts(...verdicts: Verdict[]): (signal: AbortSignal) => Promise<CellResult> {
  let n = 0;
  return async () => cellResult(verdicts[n++]!, verdicts[n - 1] === 'error' ? { reason: 'QEMU was killed by SIGKILL', errorSource: 'emulator' } : { reason: 'every check passed' });
}

test('an emulator error settled by a retry is flaky, with the first error kept', async (t) => {
  const result = await runWithRetries(attempts('error', 'pass'), limits());
  t.is(result.verdict, 'pass');
  t.is(result.attempts, 2);
  t.true(result.flaky);
  t.is(result.reason, 'every check passed');
  t.deepEqual(result.earlierAttempts?.map((a) => `attempt ${a.attempt}: ${a.reason}`), ['attempt 1: QEMU was killed by SIGKILL']);
});

test('an error on every attempt stays an error, not flaky', async (t) => {
  const result = await runWithRetries(attempts('error', 'error', 'pass'), limits());
  t.is(result.verdict, 'error');
  t.is(result.attempts, 2);
  t.false(result.flaky);
});

test('a wrong outcome is never retried', async (t) => {
  const result = await runWithRetries(attempts('fail', 'pass'), limits({ retries: 3 }));
  t.is(result.verdict, 'fail');
  t.is(result.attempts, 1);
});

test('an interrupted run is not retried', async (t) => {
  const controller = new AbortController();
  controller.abort();
  const result = await runWithRetries(attempts('error', 'pass'), limits({ signal: controller.signal }));
  t.is(result.attempts, 1);
  t.is(result.verdict, 'error');
});

test('a cell past its time limit is aborted and reported with where it was', async (t) => {
  const result = await runWithRetries(
    (signal, at) =>
      new Promise((resolve) => {
        at('step 3 (upgrade lgstale)');
        signal.addEventListener('abort', () => resolve(cellResult('skip', { reason: 'interrupted' })), { once: true });
      }),
    limits({ cellTimeoutMs: 50, retries: 0 }),
  );
  t.is(result.verdict, 'error');
  t.is(result.reason, 'cell did not finish within 0.05 s; it was at step 3 (upgrade lgstale)');
});
