import test from 'ava';
import { collectBuilds } from '../../harness/fixtures/build.js';
import { knownIssueFor, planCells } from '../../harness/plan/plan.js';
import { nevraOf, type Scenario } from '../../harness/scenario/types.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';

test('the catalog plans one cell per scenario, level and driver, with unique ids', (t) => {
  const cells = planCells(CATALOG);
  t.is(new Set(cells.map((c) => c.id)).size, cells.length);
  t.is(cells.length, 106);
  t.deepEqual(cells.slice(0, 3).map((c) => c.id), ['detection[v1,rpm]', 'detection[v1,dnf5]', 'detection[v1,zypper]']);
  // A disk can only move to an older CPU from v2 up.
  t.false(cells.some((c) => c.id.startsWith('moved-to-older-cpu[v1')));
});

test('filters narrow the matrix; an unknown scenario names the known ones', (t) => {
  t.deepEqual(
    planCells(CATALOG, { levels: ['v3'], drivers: ['zypper'], scenarios: ['detection', 'glibc-hwcaps'] }).map((c) => c.id),
    ['detection[v3,zypper]', 'glibc-hwcaps[v3,zypper]'],
  );
  t.is(planCells(CATALOG, { grep: '/^upgrade-.*v2,dnf5/' }).length, 2);
  t.is(planCells(CATALOG, { tags: ['hwcaps'] }).length, 12);
  t.throws(() => planCells(CATALOG, { scenarios: ['nope'] }), { message: /^--scenario: 'nope' is not a scenario; known: detection, fresh-install-mixed, / });
});

test('known issues match by scenario, driver and level, and expire', (t) => {
  const cell = planCells(CATALOG, { scenarios: ['detection'], levels: ['v3'], drivers: ['dnf5'] })[0]!;
  t.is(knownIssueFor(cell, KNOWN_ISSUES, '2026-11-26').issue?.tracker, 'https://github.com/rpm-software-management/dnf5/pull/2591');
  const later = knownIssueFor(cell, KNOWN_ISSUES, '2027-07-01');
  t.is(later.issue, undefined);
  t.is(later.expired.length, 1);
  const v1 = planCells(CATALOG, { scenarios: ['detection'], levels: ['v1'], drivers: ['dnf5'] })[0]!;
  t.is(knownIssueFor(v1, KNOWN_ISSUES, '2026-11-26').issue, undefined);
});

test('every scenario is consistent: repositories and local files it names exist', (t) => {
  t.is(new Set(CATALOG.map((s) => s.id)).size, CATALOG.length);
  for (const scenario of CATALOG) {
    for (const step of scenario.steps) {
      if (step.kind === 'repos') for (const id of step.use) t.truthy(scenario.repos[id], `${scenario.id}: repository ${id}`);
      if (step.kind === 'install-file') t.true((scenario.repos[step.repo] ?? []).some((b) => nevraOf(b) === step.nevra), `${scenario.id}: ${step.nevra}`);
    }
  }
  t.true(collectBuilds(CATALOG).length > 30);
});

test('one NEVRA declared with two contents is refused, naming both places', (t) => {
  const a: Scenario = { id: 'a', title: 'a', tags: [], drivers: ['rpm'], repos: { r: [{ name: 'x', version: '1', arch: 'x86_64' }] }, steps: [] };
  const b: Scenario = { ...a, id: 'b', repos: { s: [{ name: 'x', version: '1', arch: 'x86_64', requires: ['y'] }] } };
  t.throws(() => collectBuilds([a, b]), { message: 'fixture x-1-1.x86_64 is declared twice with different contents (a/r and b/s)' });
});
