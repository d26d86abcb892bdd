import test from 'ava';
import { bestVariant, newestRunnable, parseNevra } from '../../harness/packages/available.js';
import { compareEvr, rpmvercmp } from '../../harness/packages/evr.js';
import { evaluate, installedOf, type Observation } from '../../harness/scenario/evaluate.js';
import { best } from '../../harness/scenario/api.js';

const pkg = (text: string) => parseNevra(text)!;
const available = ['lgstale-1.0-1.x86_64', 'lgstale-1.0-1.x86_64_v3', 'lgstale-1.1-1.x86_64', 'lgstale-1.2-1.x86_64_v4'].map(pkg);
const seen = (overrides: Partial<Observation>): Observation => ({ level: 'v3', fidelity: 'traps', installed: [], programs: {}, available, ...overrides });
const program = (firstLine: string, identity?: string) => ({ path: '/usr/bin/x', exitCode: 0, signal: null, missing: false, firstLine, errorLine: '', ...(identity ? { identity } : {}) });

test('the best variant is the newest version the CPU runs, in the highest arch that version has', (t) => {
  t.is(bestVariant('lgstale', 'v3', available)?.arch, 'x86_64');
  t.is(bestVariant('lgstale', 'v3', available)?.version, '1.1');
  t.is(bestVariant('lgstale', 'v4', available)?.version, '1.2');
  const mixed = ['a-1.0-1.x86_64', 'a-1.0-1.x86_64_v2', 'a-1.0-1.x86_64_v3', 'a-1.0-1.x86_64_v4'].map(pkg);
  t.deepEqual((['v1', 'v2', 'v3', 'v4'] as const).map((l) => bestVariant('a', l, mixed)?.arch), ['x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4']);
  t.is(newestRunnable('lgstale', 'v1', available)?.version, '1.1');
  t.is(bestVariant('nope', 'v3', available), undefined);
});

test('installed: a wrong arch with the right version, a wrong version, missing and unexpected are told apart', (t) => {
  const check = (installed: string[], want: string | null | typeof best) => evaluate({ installed: { lgstale: want } }, seen({ installed }))[0]!;
  t.like(check(['lgstale-1.1-1.x86_64'], best), { status: 'pass', expected: '1.1-1.x86_64' });
  t.like(check(['lgstale-1.1-1.x86_64_v3'], '1.1-1.x86_64'), { status: 'fail', deviation: 'arch' });
  t.like(check(['lgstale-1.0-1.x86_64_v3'], best), { status: 'fail', deviation: 'older', actual: '1.0-1.x86_64_v3' });
  t.like(check([], best), { status: 'fail', deviation: 'missing', actual: 'not installed' });
  t.like(check(['lgstale-1.0-1.x86_64'], null), { status: 'fail', deviation: 'unexpected', expected: 'not installed' });
});

test('a program runs when it exits 0 and, for a fixture, reports the installed package', (t) => {
  const checks = evaluate({ runs: ['a', 'b', 'c', 'd'] }, seen({
    programs: {
      a: program('a 1.0-1 x86_64_v3', 'a 1.0-1 x86_64_v3'),
      b: program('b 1.0-1 x86_64', 'b 1.0-1 x86_64_v3'),
      c: { ...program(''), exitCode: null, signal: 'SIGILL' },
      d: { ...program(''), missing: true, exitCode: 127 },
    },
  }));
  t.deepEqual(checks.map((c) => [c.subject, c.status, c.deviation, c.actual]), [
    ['a', 'pass', undefined, 'a 1.0-1 x86_64_v3'],
    ['b', 'fail', 'output', 'b 1.0-1 x86_64'],
    ['c', 'fail', 'sigill', 'sigill'],
    ['d', 'fail', 'not-run', 'not installed'],
  ]);
});

test('current: the newest version the CPU runs, whatever its arch', (t) => {
  t.like(evaluate({ current: ['lgstale'] }, seen({ installed: ['lgstale-1.0-1.x86_64_v3'] }))[0], { status: 'fail', deviation: 'stale', expected: '1.1-1', actual: '1.0-1' });
  t.like(evaluate({ current: ['lgstale'] }, seen({ installed: ['lgstale-1.1-1.x86_64'] }))[0], { status: 'pass' });
});

test('outcome: success expected by default; a refusal must be for the stated reason', (t) => {
  t.like(evaluate({}, seen({ outcome: { kind: 'ok' } }))[0], { kind: 'outcome', status: 'pass' });
  t.like(evaluate({}, seen({ outcome: { kind: 'refused', reason: 'not-found', message: 'No match' } }))[0], { status: 'fail', deviation: 'refused', actual: 'refused (not-found): No match' });
  t.like(evaluate({ refused: 'incompatible-arch' }, seen({ outcome: { kind: 'refused', reason: 'incompatible-arch', message: 'm' } }))[0], { status: 'pass' });
  t.like(evaluate({ refused: 'incompatible-arch' }, seen({ outcome: { kind: 'refused', reason: undefined, message: 'm' } }))[0], { status: 'fail', deviation: 'wrong-refusal' });
  t.like(evaluate({ refused: 'incompatible-arch' }, seen({ outcome: { kind: 'ok' } }))[0], { status: 'fail', deviation: 'succeeded' });
  t.is(evaluate({}, seen({})).length, 0, 'no command, no outcome check');
});

test('dies (trap-reliant) is judged only at fidelity traps; updates and detected arch', (t) => {
  const ran = { programs: { x: program('x 1.0-1 x86_64_v3') } };
  t.like(evaluate({ dies: ['x'] }, seen(ran))[0], { status: 'fail', deviation: 'ran' });
  t.like(evaluate({ dies: ['x'] }, seen({ ...ran, fidelity: 'masks-only' }))[0], { status: 'skip' });
  t.like(evaluate({ dies: ['x'] }, seen({ programs: { x: { ...program(''), exitCode: null, signal: 'SIGILL' } } }))[0], { status: 'pass' });
  t.like(evaluate({ updatesListed: ['lgstale'] }, seen({ updates: [] }))[0], { status: 'fail', deviation: 'not-listed', expected: 'lgstale', actual: 'none' });
  t.like(evaluate({ updatesListed: [] }, seen({ updates: ['lgstale'] }))[0], { status: 'fail', deviation: 'extra-listed' });
  t.like(evaluate({ detectedArch: 'level' }, seen({ detectedArch: 'x86_64' }))[0], { status: 'fail', expected: 'x86_64_v3', actual: 'x86_64' });
});

test('runnable: one check per installed program', (t) => {
  const checks = evaluate({ runnable: true }, seen({ runnablePrograms: ['a', 'b'], programs: { a: program('a 1-1 x86_64', 'a 1-1 x86_64'), b: { ...program(''), exitCode: null, signal: 'SIGILL' } } }));
  t.deepEqual(checks.map((c) => [c.check, c.status, c.deviation]), [['runnable: a', 'pass', undefined], ['runnable: b', 'fail', 'sigill']]);
});

test('installed names are told apart from names that merely share a prefix; epochs are read', (t) => {
  const installed = ['lgsub-1.0-1.x86_64_v3', 'lgsub-libs-1.0-1.x86_64', 'e-2:1.0-1.noarch'];
  t.deepEqual(installedOf(installed, 'lgsub').map((p) => p.arch), ['x86_64_v3']);
  t.deepEqual(installedOf(installed, 'lgsub-libs').map((p) => p.arch), ['x86_64']);
  t.is(installedOf(installed, 'e')[0]?.epoch, 2);
});

test("rpm's version order: rpmvercmp with tilde, caret, letters and leading zeros", (t) => {
  const cases: [string, string, -1 | 0 | 1][] = [
    ['1.0', '1.0', 0], ['1.0', '1.1', -1], ['1.10', '1.9', 1], ['1.0', '1.0.1', -1], ['1.0a', '1.0', 1], ['1.a', '1.1', -1],
    ['1.0~rc1', '1.0', -1], ['1.0~rc1', '1.0~rc2', -1], ['1.0^git1', '1.0', 1], ['1.0^git1', '1.0.1', -1], ['001', '1', 0], ['1_0', '1.0', 0],
  ];
  for (const [a, b, want] of cases) t.is(rpmvercmp(a, b), want, `${a} vs ${b}`);
  t.is(compareEvr({ epoch: 1, version: '1.0', release: '1' }, { epoch: 0, version: '2.0', release: '1' }), 1);
});

test('no vacuous pass: runsPackage of a package that is not installed fails; one that ships nothing to run is not judged; runnable with nothing in play fails', (t) => {
  t.like(evaluate({ runsPackage: ['lgstale'] }, seen({ installed: [], packagePrograms: { lgstale: [] } }))[0], { status: 'fail', deviation: 'missing', actual: 'not installed' });
  t.like(evaluate({ runsPackage: ['lgstale'] }, seen({ installed: ['lgstale-1.1-1.x86_64'], packagePrograms: { lgstale: [] } }))[0], {
    status: 'skip',
    skipReason: 'lgstale ships no program or library: nothing of it can run',
  });
  t.like(evaluate({ runnable: true }, seen({ runnablePrograms: [] }))[0], { status: 'fail', deviation: 'missing', actual: "no program of the scenario's packages is installed" });
});

test('a library the loader selects above the CPU, or cannot load, is no working run', (t) => {
  const lib = (problem?: { text: string; deviation: 'above-level' | 'exit' }) => ({ ...program('loads /usr/lib64/libx.so.1'), ...(problem ? { problem } : {}) });
  const checks = evaluate(
    { runsPackage: ['libx'] },
    seen({ installed: ['libx-1.0-1.x86_64'], packagePrograms: { libx: ['libx.so.1'] }, programs: { 'libx.so.1': lib({ text: 'the loader selects /usr/lib64/glibc-hwcaps/x86-64-v4/libx.so.1, built above this v3 CPU', deviation: 'above-level' }) } }),
  );
  t.like(checks[0], { status: 'fail', deviation: 'above-level', actual: 'the loader selects /usr/lib64/glibc-hwcaps/x86-64-v4/libx.so.1, built above this v3 CPU' });
  t.like(evaluate({ runsPackage: ['libx'] }, seen({ installed: ['libx-1.0-1.x86_64'], packagePrograms: { libx: ['libx.so.1'] }, programs: { 'libx.so.1': lib() } }))[0], { status: 'pass' });
});
