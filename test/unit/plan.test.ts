import test from 'ava';
import { collectBuilds } from '../../harness/fixtures/build.js';
import { any, best, defineScenario, deviation, enable, installFile, installNewRecommends, install, variants, type DeviationMatcher } from '../../harness/index.js';
import type { LevelName } from '../../harness/levels/table.js';
import { parseNevra } from '../../harness/packages/available.js';
import { idleIssuesOf } from '../../harness/results/summary.js';
import type { StepRecord } from '../../harness/results/types.js';
import { judgeCell } from '../../harness/run/verdict.js';
import { evaluate } from '../../harness/scenario/evaluate.js';
import type { InstalledState } from '../../harness/scenario/types.js';
import type { Refusal } from '../../harness/model/package-manager.js';
import { cellResult, runResult } from '../fixtures/results.js';
import { issuesCovering, validateKnownIssues } from '../../harness/plan/known-issues.js';
import { planCells } from '../../harness/plan/plan.js';
import { validateScenarios } from '../../harness/scenario/validate.js';
import { fixtureAuditSource, variantAuditScenarios } from '../../harness/scenario/variant-audit.js';
import type { Scenario } from '../../harness/scenario/types.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';

test('the catalog plans one cell per scenario, level and driver, with unique ids', (t) => {
  const cells = planCells(CATALOG);
  t.is(new Set(cells.map((c) => c.id)).size, cells.length);
  // 128 rpm-family cells and 44 apt and pacman cells (issue 23).
  t.is(cells.length, 172);
  // The detectors do not depend on the driver: one detection cell per CPU.
  t.deepEqual(cells.slice(0, 3).map((c) => c.id), ['detection[v1,rpm]', 'detection[v2,rpm]', 'detection[v3,rpm]']);
  // --near-misses adds every near miss to the scenarios made for them.
  const near = planCells(CATALOG, { nearMisses: true }).filter((c) => c.target.nearMiss);
  t.true(near.length >= 23 && near.every((c) => c.scenario.nearMisses));
  // A disk can only move to an older CPU from v2 up.
  t.false(cells.some((c) => c.id.startsWith('moved-to-older-cpu[v1')));
});

test('filters narrow the matrix; an unknown scenario names the known ones', (t) => {
  t.deepEqual(
    planCells(CATALOG, { targets: ['v3'], drivers: ['zypper', 'rpm'], scenarios: ['detection', 'glibc-hwcaps'] }).map((c) => c.id),
    ['detection[v3,rpm]', 'glibc-hwcaps[v3,rpm]', 'glibc-hwcaps[v3,zypper]'],
  );
  t.is(planCells(CATALOG, { grep: '/^upgrade-.*v2,dnf5/' }).length, 2);
  t.is(planCells(CATALOG, { tags: ['hwcaps'] }).length, 22);
  t.throws(() => planCells(CATALOG, { scenarios: ['nope'] }), { message: /^--scenario: 'nope' is not a scenario; known: detection, fresh-install-mixed, / });
});

test('known issues cover cells by scenario, driver and level, and expire', (t) => {
  const at = (level: 'v1' | 'v3', today: string) => issuesCovering({ scenario: 'detection', level, driver: 'dnf5' }, KNOWN_ISSUES, today);
  // The detection cell asks every detector: pacman's (no level detection upstream) is wrong above v1 too.
  t.deepEqual(at('v3', '2026-12-01').live.map((i) => i.id), ['dnf5-no-levels/detection', 'pacman-no-level-detection/detection']);
  const later = at('v3', '2027-07-01');
  t.deepEqual([later.live.length, later.expired.map((i) => i.id)], [0, ['dnf5-no-levels/detection', 'pacman-no-level-detection/detection']]);
  t.deepEqual(at('v1', '2026-12-01'), { live: [], expired: [] });
});

test('the catalog and its known issues are consistent: no problem to report', (t) => {
  t.deepEqual(validateScenarios(CATALOG), []);
  t.deepEqual(validateKnownIssues(KNOWN_ISSUES, 'scenarios/known-issues.ts'), []);
  // Every scenario an issue names exists: in the catalog, or in the variant audit of the fixtures.
  const fixtures = fixtureAuditSource(CATALOG);
  const audit = variantAuditScenarios({ repos: fixtures.repos, packages: fixtures.builds.map((b) => ({ name: b.name, epoch: 0, version: b.version, release: b.release ?? '1', arch: b.arch })) }).scenarios;
  t.deepEqual(validateScenarios([...CATALOG, ...audit]), []);
  for (const issue of KNOWN_ISSUES) for (const id of issue.scenarios) t.true([...CATALOG, ...audit].some((s) => s.id === id), `${issue.id}: scenario ${id}`);
  t.true(collectBuilds(CATALOG).length > 30);
});

test('scenario problems name the scenario, its file and the field, and what to change', (t) => {
  const base = { title: 't', drivers: ['dnf5'] as const, repos: { files: variants('x', '1', ['x86_64']) } };
  const a = { ...defineScenario({ ...base, id: 'a', steps: [enable('nope'), installFile('files', 'x-1-1.x86_64_v3')] }), source: 'scenarios/a.ts' } satisfies Scenario;
  const b = { ...defineScenario({ ...base, id: 'a', steps: [install('x')] }), source: 'scenarios/b.ts' } satisfies Scenario;
  t.deepEqual(validateScenarios([a, b]), [
    "scenario 'a' (scenarios/a.ts): steps[0]: names repository 'nope', which the scenario does not declare; declared: files",
    "scenario 'a' (scenarios/a.ts): steps[1]: installs x-1-1.x86_64_v3.rpm, which repository 'files' does not build; it builds x-1-1.x86_64.rpm",
    "scenario 'a' (scenarios/b.ts): id 'a' is used twice (also scenarios/a.ts); ids must be unique",
  ]);
});

test('fixture builds and steps a driver cannot run are problems naming the field', (t) => {
  const s = defineScenario({
    id: 'b',
    title: 't',
    drivers: ['zypper', 'dnf5', 'rpm'],
    repos: {
      r: [
        { name: 'o', version: '1', arch: 'x86_64', kind: 'hwcaps-overlay' },
        { name: 'p', version: '1', arch: 'x86_64', library: 'q', supplements: ['a\nRequires: b'] },
      ],
    },
    steps: [enable('r'), installNewRecommends()],
  });
  t.deepEqual(validateScenarios([s]), [
    "scenario 'b': repos.r[0] (o): kind 'hwcaps-overlay' carries only glibc-hwcaps copies: name at least one in hwcaps",
    'scenario \'b\': repos.r[1] (p): supplements[0] must be one dependency on one line, not "a\\nRequires: b"',
    "scenario 'b': repos.r[1] (p): library is only read for kind 'hwcaps-overlay' (this one is 'program')",
    "scenario 'b': steps[1]: install-new-recommends: dnf5, rpm have no such operation; drop them from drivers",
  ]);
});

test('known issue problems name the entry', (t) => {
  const issue = { ...KNOWN_ISSUES[0]!, id: 'x', expires: '30/06/2027', explains: [] };
  t.deepEqual(validateKnownIssues([issue, { ...KNOWN_ISSUES[0]!, id: 'x' }], 'config.knownIssues'), [
    "config.knownIssues[0] (x): expires '30/06/2027' is not a YYYY-MM-DD date",
    'config.knownIssues[0] (x): explains no deviation; name the check and how it differs',
    "config.knownIssues[1] (x): id 'x' is used twice",
  ]);
});

test('one NEVRA declared with two contents is refused, naming both places', (t) => {
  const a = defineScenario({ id: 'a', title: 'a', drivers: ['rpm'], repos: { r: [{ name: 'x', version: '1', arch: 'x86_64' }] }, steps: [] });
  const b = defineScenario({ ...a, id: 'b', repos: { s: [{ name: 'x', version: '1', arch: 'x86_64', requires: ['y'] }] }, steps: [] });
  t.throws(() => collectBuilds([a, b]), { message: 'fixture x-1-1.x86_64 is declared twice with different contents (a/r and b/s)' });
});

/** The steps of a cell after `evaluate`: a step with its action and checks, as the verdict reads them. */
const step = (index: number, action: string, checks: ReturnType<typeof evaluate>): StepRecord => ({ index, title: action, action, level: 'v2', commands: [], installedBefore: [], installedAfter: [], checks });
const verdictOf = (scenario: string, target: string, level: LevelName, driver: string, steps: StepRecord[]) =>
  judgeCell(steps, issuesCovering({ scenario, level, target, driver }, KNOWN_ISSUES, '2026-12-01').live);

test("known issues explain narrowly: libzypp's XCR0 issue does not absorb an unrelated 'nothing provides' refusal of the fresh install", (t) => {
  const seen = { level: 'v2' as const, fidelity: 'traps' as const, installed: [], programs: {}, available: [] };
  const refusedFor = (reason: Refusal, message: string) => evaluate({}, { ...seen, outcome: { kind: 'refused', reason, message } });
  // What the issue describes: rpm refuses the x86_64_v3 builds for their arch.
  t.is(verdictOf('fresh-install-mixed', 'v3-noavxstate', 'v2', 'zypper', [step(2, 'install', refusedFor('incompatible-arch', 'package lgmixed-1.0-1.x86_64_v3 is intended for a different architecture'))]).verdict, 'xfail');
  // Another bug: a dependency nobody provides.
  const other = verdictOf('fresh-install-mixed', 'v3-noavxstate', 'v2', 'zypper', [step(2, 'install', refusedFor('dependency', 'nothing provides libfoo needed by lgmixed-1.0-1.x86_64_v2'))]);
  t.is(other.verdict, 'fail');
  t.is(other.reason, 'step 2 (install): outcome: expected succeeds, got refused (dependency): nothing provides libfoo needed by lgmixed-1.0-1.x86_64_v2');
});

test('known issues explain narrowly: dnf5-no-levels/variant-audit-v3 explains the x86_64 build of the right version, never an older version', (t) => {
  const available = ['lgmixed-1.0-1.x86_64', 'lgmixed-1.0-1.x86_64_v2', 'lgmixed-1.0-1.x86_64_v3', 'lgmixed-1.0-1.x86_64_v4'].map((n) => parseNevra(n)!);
  const seen = (installed: string) => ({ level: 'v3' as const, fidelity: 'traps' as const, installed: [installed], programs: {}, available });
  const cell = (installed: string) => verdictOf('variant-audit.lgmixed', 'v3', 'v3', 'dnf5', [step(2, 'install', evaluate({ installed: { lgmixed: best } }, seen(installed)))]);
  t.is(cell('lgmixed-1.0-1.x86_64').verdict, 'xfail');
  const older = cell('lgmixed-0.9-1.x86_64');
  t.is(older.verdict, 'fail');
  t.is(older.steps[0]!.checks[0]!.deviation, 'older');
});

test('the installed deviation tells older, newer, another build and a wrong side-by-side set apart', (t) => {
  const available = ['x-1.0-1.x86_64', 'x-1.0-1.x86_64_v3'].map((n) => parseNevra(n)!);
  const dev = (installed: string[], want: InstalledState = best) => evaluate({ installed: { x: want } }, { level: 'v3', fidelity: 'traps', installed, programs: {}, available })[0]!.deviation;
  t.deepEqual(
    [dev(['x-0.9-1.x86_64_v3']), dev(['x-1.1-1.x86_64_v3']), dev(['x-1.0-2.x86_64_v3']), dev(['x-1.0-1.x86_64']), dev(['x-1.0-1.x86_64', 'x-0.9-1.x86_64']), dev(['x-1.0-1.x86_64'], ['1.0-1.x86_64', '1.0-1.x86_64_v3'])],
    ['older', 'newer', 'other-build', 'arch', 'wrong-set', 'wrong-set'],
  );
});

test('a matcher must name its subject and action (or say any), a refusal its reason, and no issue may explain exclusive outcomes of one check', (t) => {
  const base = { id: 'loose', reason: 'r', tracker: 'https://example.org/1', expires: '2099-01-01', scenarios: ['fresh-install-mixed'] };
  const raw = { check: 'installed', deviation: 'arch' } as unknown as DeviationMatcher;
  t.deepEqual(validateKnownIssues([{ ...base, explains: [raw, { check: 'outcome', subject: '', action: 'install', deviation: 'refused' }] }], 'known-issues.ts'), [
    'known-issues.ts[0] (loose): explains[0] (installed): name its subject (the package or program) or say any',
    "known-issues.ts[0] (loose): explains[0] (installed): name the step's action (install, upgrade...) or say any",
    'known-issues.ts[0] (loose): explains[1] (outcome): name the refusal\'s reason (incompatible-arch, not-found, conflict, dependency, unrecognised): a refusal for another reason is another bug',
  ]);
  // An issue that hedges: nothing installed, or the wrong arch; older, or newer; did not run, or died.
  const hedges = [deviation.notInstalled(any, 'install'), deviation.installedArch('lgmixed', 'install'), { ...deviation.installedOlder('lgmixed', any), deviation: ['older', 'newer'] as const }, deviation.doesNotRun('not-run', 'lgmixed', 'install'), deviation.doesNotRun('sigill', any, any)];
  t.deepEqual(validateKnownIssues([{ ...base, explains: hedges }], 'known-issues.ts'), [
    "known-issues.ts[0] (loose): explains[0] and [1] (installed any) combine exclusive outcomes 'missing' and 'arch': a tool shows one; name the one it has, or split the issue by level or target",
    "known-issues.ts[0] (loose): explains[0] and [2] (installed any) combine exclusive outcomes 'missing' and 'older': a tool shows one; name the one it has, or split the issue by level or target",
    "known-issues.ts[0] (loose): explains[0] and [2] (installed any) combine exclusive outcomes 'missing' and 'newer': a tool shows one; name the one it has, or split the issue by level or target",
    "known-issues.ts[0] (loose): explains[2] (installed 'lgmixed') combine exclusive outcomes 'older' and 'newer': a tool shows one; name the one it has, or split the issue by level or target",
    "known-issues.ts[0] (loose): explains[3] and [4] (runs 'lgmixed') combine exclusive outcomes 'not-run' and 'sigill': a tool shows one; name the one it has, or split the issue by level or target",
  ]);
});

test('a known issue that explained nothing over a whole run is listed in the run, even when no cell was an xpass', (t) => {
  const ref = (id: string) => ({ id, reason: id, tracker: `https://example.org/${id}`, expires: '2099-01-01' });
  const explained = { ...cellResult('xfail'), coveringKnownIssues: [ref('used'), ref('idle')], steps: [step(1, 'install', [{ kind: 'installed' as const, subject: 'x', check: 'installed x', expected: 'a', actual: 'b', status: 'fail' as const, deviation: 'arch' as const, explainedBy: 'used' }])] };
  const passed = { ...cellResult('pass', { id: 'other[v3,dnf5]' }), coveringKnownIssues: [ref('idle')] };
  const skipped = { ...cellResult('skip', { id: 'third[v3,dnf5]' }), coveringKnownIssues: [ref('never-judged')] };
  t.deepEqual(idleIssuesOf([explained, passed, skipped]).map((i) => i.id), ['idle']);
  t.deepEqual(runResult([explained, passed]).idleKnownIssues?.map((i) => i.id), ['idle']);
});

test('the catalog states correct behaviour: detection checks no detector the level proof already reads; the mislabelled release-2 tool dies below v3, no known issue excuses it', (t) => {
  const detection = CATALOG.find((s) => s.id === 'detection')!;
  for (const cell of planCells([detection], { nearMisses: true })) {
    const source = detection.steps[0]!.expectation!;
    const e = typeof source === 'function' ? source({ level: cell.level, target: cell.target, driver: cell.driver, atLeast: () => true }) : source;
    const asked = Object.keys(typeof e.detectors === 'object' ? e.detectors : {});
    t.false(asked.includes('cpuinfo') || asked.includes('glibc'), cell.id);
  }
  const release = CATALOG.find((s) => s.id === 'release-upgrade')!;
  const after = (level: LevelName) => {
    const source = release.steps[2]!.expectation!;
    return typeof source === 'function' ? source({ level, target: { name: level, level }, driver: 'dnf5', atLeast: () => false }) : source;
  };
  t.deepEqual([after('v2').dies, after('v2').runs, after('v3').runnable], [['lgrel-tool'], ['lgrel-core', 'lgrel-data'], true]);
  t.false(KNOWN_ISSUES.some((i) => i.scenarios.some((s) => s.startsWith('release-upgrade')) && i.explains.some((m) => m.subject === 'lgrel-tool')));
});
