import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { KnownIssue } from '../../harness/plan/known-issues.js';
import type { StepRecord } from '../../harness/results/types.js';
import { solverCaseKey, storedSolverCase, storeSolverCase, type SolverCaseInputs } from '../../harness/run/reproducer.js';

const step = (index: number, actual: string): StepRecord => ({
  index,
  title: `install lgmixed (${index})`,
  action: 'install',
  level: 'v3',
  commands: [{ command: 'dnf5 -y install lgmixed', exitCode: 0, signal: null, timedOut: false, stdout: 'noise that may differ', stderr: '', durationMs: 1234 + index, consoleEvents: [], role: 'action' }],
  installedBefore: [],
  installedAfter: [`lgmixed-1.0-1.${actual}`],
  checks: [{ kind: 'installed', subject: 'lgmixed', check: 'installed lgmixed', expected: '1.0-1.x86_64_v3', actual: `1.0-1.${actual}`, status: actual === 'x86_64_v3' ? 'pass' : 'fail' }],
});
const issue = { id: 'dnf5-no-levels/fresh-install' } as KnownIssue;
const inputs: SolverCaseInputs = {
  cellId: 'fresh-install-mixed[v3,dnf5]',
  imageDigest: '1f040f9cdc71865c',
  repoDirs: ['/cache/fixtures/74e30adf1b679552/fresh-install-mixed/main'],
  steps: [step(1, 'x86_64'), step(2, 'x86_64')],
  failingStep: 1,
  issues: [issue],
};

test('the key of a solver test case covers its inputs, not the run\'s timings or output', (t) => {
  const key = solverCaseKey(inputs)!;
  t.regex(key, /^[0-9a-f]{16}$/);
  // Durations, stdout and steps after the failing one do not change it.
  const later = { ...inputs, steps: [{ ...step(1, 'x86_64'), commands: [{ ...step(1, 'x86_64').commands[0]!, durationMs: 9, stdout: 'other' }] }, step(2, 'x86_64_v3')] };
  t.is(solverCaseKey(later), key);
  // Another decision of the solver, image, fixture set, issue or cell: another key.
  t.not(solverCaseKey({ ...inputs, steps: [step(1, 'x86_64_v2'), step(2, 'x86_64')] }), key);
  t.not(solverCaseKey({ ...inputs, imageDigest: 'ffffffffffffffff' }), key);
  t.not(solverCaseKey({ ...inputs, repoDirs: ['/cache/fixtures/0000000000000000/fresh-install-mixed/main'] }), key);
  t.not(solverCaseKey({ ...inputs, issues: [] }), key);
  t.not(solverCaseKey({ ...inputs, cellId: 'fresh-install-mixed[v2,dnf5]' }), key);
  // An attached repository is not content-addressed: nothing is stored for it.
  t.is(solverCaseKey({ ...inputs, repoDirs: [...inputs.repoDirs, undefined] }), undefined);
});

test('a stored solver test case reads back byte for byte; a missing one is undefined', async (t) => {
  const cache = await mkdtemp(path.join(os.tmpdir(), 'levelgate-test-reproducer-'));
  try {
    const key = solverCaseKey(inputs)!;
    t.is(await storedSolverCase(key, cache), undefined);
    const files = new Map([['testcase.t', Buffer.from('repo system 0 testtags <inline>\n')], ['main.repo.gz', Buffer.from([0x1f, 0x8b, 0, 255])]]);
    await storeSolverCase(key, { step: 1, tool: 'dnf5', files }, cache);
    const back = await storedSolverCase(key, cache);
    t.deepEqual(back && { step: back.step, tool: back.tool, files: [...back.files] }, { step: 1, tool: 'dnf5', files: [...files] });
    // A second store of the same key (two workers at once) keeps the first and leaves no staging directory.
    await storeSolverCase(key, { step: 1, tool: 'dnf5', files: new Map([['testcase.t', Buffer.from('other')]]) }, cache);
    t.deepEqual([...(await storedSolverCase(key, cache))!.files.keys()], ['testcase.t', 'main.repo.gz']);
    const { readdir } = await import('node:fs/promises');
    t.deepEqual(await readdir(path.join(cache, 'reproducers')), [key]);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});
