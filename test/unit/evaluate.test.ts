import test from 'ava';
import { evaluate, installedOf, newestRunnable } from '../../harness/scenario/evaluate.js';
import { verdictFor } from '../../harness/run/cell.js';
import type { PackageBuild } from '../../harness/scenario/types.js';

const available: PackageBuild[] = [
  { name: 'lgstale', version: '1.0', arch: 'x86_64' },
  { name: 'lgstale', version: '1.0', arch: 'x86_64_v3' },
  { name: 'lgstale', version: '1.1', arch: 'x86_64' },
  { name: 'lgstale', version: '1.2', arch: 'x86_64_v4' },
];

test('a wrong variant is caught by what is installed and by what runs', (t) => {
  const checks = evaluate(
    { installed: { lgmixed: '1.0-1.x86_64_v3' }, runs: { lgmixed: 'lgmixed 1.0-1 x86_64_v3' } },
    { installed: ['lgmixed-1.0-1.x86_64'], runs: { lgmixed: 'lgmixed 1.0-1 x86_64' }, loads: {} },
    'v3',
    [],
  );
  t.deepEqual(checks, [
    { check: 'installed lgmixed', expected: '1.0-1.x86_64_v3', actual: '1.0-1.x86_64', ok: false },
    { check: 'runs lgmixed', expected: 'lgmixed 1.0-1 x86_64_v3', actual: 'lgmixed 1.0-1 x86_64', ok: false },
  ]);
});

test('a variant that dies with SIGILL is caught', (t) => {
  const [check] = evaluate({ runs: { lgbad: 'lgbad 1.0-1 x86_64' } }, { installed: [], runs: { lgbad: 'sigill' }, loads: {} }, 'v2', []);
  t.deepEqual(check, { check: 'runs lgbad', expected: 'lgbad 1.0-1 x86_64', actual: 'sigill', ok: false });
});

test('a stale install is caught: the newest version the CPU can run, not the newest of its arch', (t) => {
  t.is(newestRunnable('lgstale', 'v3', available), '1.1-1');
  t.is(newestRunnable('lgstale', 'v4', available), '1.2-1');
  t.is(newestRunnable('lgstale', 'v1', available), '1.1-1');
  const [stale] = evaluate({ notStale: ['lgstale'] }, { installed: ['lgstale-1.0-1.x86_64_v3'], runs: {}, loads: {} }, 'v3', available);
  t.deepEqual(stale, { check: 'not stale: lgstale', expected: '1.1-1', actual: '1.0-1', ok: false });
  const [fresh] = evaluate({ notStale: ['lgstale'] }, { installed: ['lgstale-1.1-1.x86_64'], runs: {}, loads: {} }, 'v3', available);
  t.true(fresh!.ok);
});

test('exit status: "should fail" passes on any non-zero status, never on 0 or on no command', (t) => {
  const check = (exitCode: number | null | undefined) =>
    evaluate({ succeeds: false }, { ...(exitCode !== undefined ? { exitCode } : {}), installed: [], runs: {}, loads: {} }, 'v2', [])[0]!;
  t.deepEqual(check(104), { check: 'exit status', expected: 'non-zero', actual: 'non-zero (104)', ok: true });
  t.false(check(0).ok);
  t.false(check(undefined).ok);
  t.true(evaluate({ succeeds: true }, { exitCode: 0, installed: [], runs: {}, loads: {} }, 'v2', [])[0]!.ok);
});

test('installed names are told apart from names that merely share a prefix', (t) => {
  const installed = ['lgsub-1.0-1.x86_64_v3', 'lgsub-libs-1.0-1.x86_64'];
  t.deepEqual(installedOf(installed, 'lgsub'), ['1.0-1.x86_64_v3']);
  t.deepEqual(installedOf(installed, 'lgsub-libs'), ['1.0-1.x86_64']);
  t.deepEqual(installedOf(['a-1-1.x86_64', 'a-1-1.x86_64_v3'], 'a'), ['1-1.x86_64', '1-1.x86_64_v3']);
});

test('verdicts: pass, fail, and a known issue turns them into xfail or a loud xpass', (t) => {
  const issue = { scenario: 's', reason: 'no level detection', tracker: 'https://example.invalid/1', expires: '2099-01-01' };
  t.deepEqual(verdictFor([], undefined), { verdict: 'pass', reason: 'every check passed' });
  t.deepEqual(verdictFor(['step 2: installed x: expected a, got b'], undefined), { verdict: 'fail', reason: 'step 2: installed x: expected a, got b' });
  t.is(verdictFor(['boom'], issue).verdict, 'xfail');
  t.deepEqual(verdictFor([], issue), { verdict: 'xpass', reason: 'passed, but is listed as a known issue (https://example.invalid/1): remove the entry' });
});
