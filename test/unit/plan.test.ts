import test from 'ava';
import { collectBuilds } from '../../harness/fixtures/build.js';
import { defineScenario, enable, installFile, installNewRecommends, install, variants } from '../../harness/index.js';
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
