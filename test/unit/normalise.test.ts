import test from 'ava';
import { normaliseDrivers, normaliseLevels, normaliseTargets, parseDriverName } from '../../harness/plan/normalise.js';
import { planCells } from '../../harness/plan/plan.js';
import { knownIssueProblems, offeredBy, planProblems } from '../../harness/plan/validate-plan.js';
import { defineScenario, enable, install, variants } from '../../harness/index.js';
import { closest } from '../../harness/util/suggest.js';
import { fixtureAuditSource, variantAuditScenarios } from '../../harness/scenario/variant-audit.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';

test('levels, targets and drivers accept the spellings the flags accept, in the engine names, once each', (t) => {
  t.deepEqual(normaliseTargets(['v1', 'x86-64-v3', 'X86_64_V3', 'x86-64', 'V3-FMA'], 'levels'), { values: ['v1', 'v3', 'v3-fma'], problems: [] });
  t.deepEqual(normaliseLevels(['x86_64_v2', 'v4'], 'levels'), { values: ['v2', 'v4'], problems: [] });
  t.deepEqual(normaliseDrivers([' DNF5', 'zypper'], 'drivers'), { values: ['dnf5', 'zypper'], problems: [] });
  t.is(parseDriverName('Rpm'), 'rpm');
  t.is(parseDriverName('Apt'), 'apt');
  t.is(parseDriverName('yum'), undefined);
});

test('what is not understood is a problem naming the field and index', (t) => {
  t.deepEqual(normaliseLevels(['v1', 'v3-fma', 5], 'x.ts: levels').problems, [
    "x.ts: levels[1]: 'v3-fma' is not a level; known: v1, v2, v3, v4 (also spelled x86-64-v3, x86_64_v3)",
    'x.ts: levels[2]: 5 is not a level; known: v1, v2, v3, v4 (also spelled x86-64-v3, x86_64_v3)',
  ]);
  t.deepEqual(normaliseDrivers('dnf5', 'drivers').problems, ['drivers must be a list, not "dnf5"']);
  t.deepEqual(normaliseDrivers(['yum'], 'drivers').problems, ["drivers[0]: 'yum' is not a driver; known: dnf5, zypper, rpm, apt, pacman"]);
  t.is(normaliseTargets(['v5'], 'levels').problems[0]!.split(';')[0], "levels[0]: 'v5' is not a level or a near miss");
});

test('the planner refuses a target or driver name it was handed raw, instead of planning nothing for it', (t) => {
  t.throws(() => planCells(CATALOG, { targets: ['v1', 'x86-64-v3'] }), { message: /^levels: 'x86-64-v3' is not a level or a near miss; known: levels v1, / });
  t.throws(() => planCells(CATALOG, { drivers: ['DNF5' as 'dnf5'] }), { message: "drivers: 'DNF5' is not a driver; known: dnf5, zypper, rpm, apt, pacman" });
});

test('closest suggests a near name and nothing for a far one', (t) => {
  t.is(closest('runz', ['runs', 'dies', 'loads']), 'runs');
  t.is(closest('instaled', ['installed', 'current']), 'installed');
  t.is(closest('xyzzy', ['runs', 'dies']), undefined);
});

const scenario = (expect: Parameters<ReturnType<typeof install>['expect']>[0]) =>
  defineScenario({ id: 's', title: 't', drivers: ['dnf5', 'zypper'], repos: { base: variants('lgs', '1.0', ['x86_64', 'x86_64_v3']) }, steps: [enable('base'), install('lgs').expect(expect)] });
const problems = (s: ReturnType<typeof defineScenario>) => planProblems(planCells([s]), offeredBy(new Map()));

test('function-form expectations are computed for every planned cell; a bad key is reported once, with the first cell it showed in', (t) => {
  const s = scenario((cpu) => (cpu.driver === 'zypper' && cpu.atLeast('v2') ? ({ installed: { lgs: '1.0-1.x86_64' }, dise: ['lgs'] } as never) : { installed: { lgs: '1.0-1.x86_64' } }));
  t.deepEqual(problems(s), [
    "the built-in catalog: scenario 's': steps[1] (install lgs).expect(cpu) at v2 with zypper: unknown key 'dise'; did you mean 'dies'? (known: refused, installed, runs, runsPackage, dies, loads, current, updatesListed, detectedArch, detectors, runnable)",
  ]);
  const throwing = scenario((cpu) => {
    if (cpu.level === 'v4') throw new Error('no v4 here');
    return {};
  });
  t.deepEqual(problems(throwing), ["the built-in catalog: scenario 's': steps[1] (install lgs).expect(cpu) at v4 with dnf5: the function threw: no v4 here"]);
});

test('installed values must be VERSION-RELEASE.ARCH of an rpm arch, offered by the repositories', (t) => {
  t.deepEqual(problems(scenario({ installed: { lgs: 'lgs-1.0-1.x86_64', other: ['1.0-1.x86_64-v2'] } })), [
    "the built-in catalog: scenario 's': steps[1] (install lgs).expect: installed.lgs: 'lgs-1.0-1.x86_64' is not VERSION-RELEASE.ARCH; did you mean '1.0-1.x86_64' (without the name)?",
    "the built-in catalog: scenario 's': steps[1] (install lgs).expect: installed.other: '1.0-1.x86_64-v2' has the arch 'x86_64-v2', which is not an rpm arch; did you mean '1.0-1.x86_64_v2'? (rpm arches use '_')",
  ]);
  t.deepEqual(problems(scenario({ installed: { lgs: ['1.0-1.x86_64', '1.0-1.x86_64_v3'], elsewhere: '2-1.noarch' } })), []);
  // The run compares the installed EVRA as rpm prints it: no epoch 0.
  t.deepEqual(problems(scenario({ installed: { lgs: '0:1.0-1.x86_64_v3' } })), [
    "the built-in catalog: scenario 's': steps[1] (install lgs).expect: installed.lgs: '0:1.0-1.x86_64_v3' is offered by none of the scenario's repositories; they offer 1.0-1.x86_64, 1.0-1.x86_64_v3",
  ]);
  t.deepEqual(problems(scenario({ installed: { lgs: '1.0-2.x86_64' } })), [
    "the built-in catalog: scenario 's': steps[1] (install lgs).expect: installed.lgs: '1.0-2.x86_64' is offered by none of the scenario's repositories; they offer 1.0-1.x86_64, 1.0-1.x86_64_v3",
  ]);
});

test("the built-in catalog and its known issues pass the plan's checks (with the fixtures' variant audit)", (t) => {
  const fixtures = fixtureAuditSource(CATALOG);
  const audit = variantAuditScenarios({ repos: fixtures.repos, packages: fixtures.builds.map((b) => ({ name: b.name, epoch: 0, version: b.version, release: b.release ?? '1', arch: b.arch })) }, {}).scenarios;
  const all = [...CATALOG, ...audit];
  t.deepEqual(planProblems(planCells(all, { nearMisses: true }), offeredBy(new Map())), []);
  t.deepEqual(knownIssueProblems(KNOWN_ISSUES, all.map((s) => s.id)), []);
  // Breaking one on purpose shows the check can fail.
  t.deepEqual(knownIssueProblems([{ ...KNOWN_ISSUES[0]!, scenarios: ['detectoin'] }], all.map((s) => s.id)).map((p) => p.split(';')[0]), [`knownIssues (${KNOWN_ISSUES[0]!.id}): scenarios: 'detectoin' names no scenario of the project`]);
});

test("source lines: a scenario's steps and a default-exported list's entries, from the file's syntax", async (t) => {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const os = await import('node:os');
  const path = await import('node:path');
  const { sourceLines } = await import('../../harness/config/source-lines.js');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-lines-'));
  try {
    await writeFile(path.join(dir, 's.ts'), "export default [\n  defineScenario({\n    id: 'a',\n    steps: [\n      enable('x'),\n\n      install('y'),\n    ],\n  }),\n  { id: 'b', steps: [detect()] },\n];\n");
    const lines = sourceLines(dir);
    t.deepEqual([lines.step('s.ts', 'a', 0), lines.step('s.ts', 'a', 1), lines.step('s.ts', 'b', 0), lines.step('s.ts', 'a', 2)], [5, 7, 10, undefined]);
    t.deepEqual([lines.entry('s.ts', 0), lines.entry('s.ts', 1)], [2, 10]);
    t.is(lines.step('missing.ts', 'a', 0), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('configuration fields of the project half: reporters, evidence, name; each problem names the field', async (t) => {
  const { validateConfig, normaliseConfig } = await import('../../harness/config/load.js');
  t.deepEqual(validateConfig({ reporters: ['terminal', ['junit', { outputFile: 'o.xml' }], './r.ts', { onEnd: () => undefined }], evidence: 'ev', name: 'fedora-45' }, 'c.ts'), []);
  t.deepEqual(validateConfig({ reporters: { junit: 'j.xml', html: false, evidence: 'ev' } }, 'c.ts'), []);
  t.deepEqual(validateConfig({ reporters: [3, ['junit', 'o.xml']], evidence: '', name: 'a b' }, 'c.ts'), [
    "c.ts: reporters[0]: 3 is not a reporter: give a name ('junit'), a module path ('./my-reporter.ts'), or [name, { options }]",
    `c.ts: reporters[1]: ["junit","o.xml"] is not a reporter: give a name ('junit'), a module path ('./my-reporter.ts'), or [name, { options }]`,
    'c.ts: evidence: must be a directory path',
    "c.ts: name: 'a b' is not a usable name (letters, digits, . _ -)",
  ]);
  t.deepEqual(validateConfig({ reporters: { xml: 'x', evidence: false } }, 'c.ts'), [
    'c.ts: reporters.xml: unknown; known: junit, html, json, evidence (or give a list of reporters)',
    'c.ts: reporters.evidence: must be a path',
  ]);
  t.deepEqual(validateConfig({ levels: ['v1', 'x86-64-v3', 'v3-fma'], drivers: ['Zypper'], variantAudit: { drivers: ['yum'] } }, 'c.ts'), ["c.ts: variantAudit.drivers[0]: 'yum' is not a driver; known: dnf5, zypper, rpm, apt, pacman"]);
  t.deepEqual(normaliseConfig({ levels: ['v1', 'x86-64-v3', 'x86_64_v3'], drivers: ['Zypper' as 'zypper'] }), { levels: ['v1', 'v3'], drivers: ['zypper'] });
});
