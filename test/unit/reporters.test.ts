// Reporters as plug-ins (built-in names, a project's modules with options, --reporter),
// isolated from each other; gate.json's schema version; cell ids that carry the run's
// name so merge joins runs of several images; gate --list against the plan run() uses.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { resolveReporters } from '../../harness/config/reporters.js';
import { planCells } from '../../harness/plan/plan.js';
import { jsonReporter, readRunResult, schemaProblem } from '../../harness/report/json.js';
import { ReporterSet } from '../../harness/report/reporter.js';
import { listPlan } from '../../harness/config/list-plan.js';
import { planRun } from '../../harness/config/run-project.js';
import { mergeRuns } from '../../runners/merge.js';
import { CATALOG } from '../../scenarios/index.js';
import { cellResult, runResult } from '../fixtures/results.js';
import { HELLO, tempProject } from '../fixtures/project.js';

test('a reporter that throws, or whose promise rejects, is named and the others still hear every hook', async (t) => {
  const warnings: string[] = [];
  const heard: string[] = [];
  const set = new ReporterSet(
    [
      { name: 'sync-thrower', onCellEnd: () => { throw new Error('boom'); } },
      { onCellEnd: async () => { throw new Error('late boom'); } },
      { name: 'listener', onCellEnd: (r) => void heard.push(r.id), onEnd: () => 'out/x.txt' },
      { name: 'end-thrower', onEnd: () => { throw new Error('cannot write'); } },
    ],
    (line) => warnings.push(line),
  );
  set.onCellEnd(cellResult('pass'));
  const written = await set.onEnd(runResult([cellResult('pass')]));
  t.deepEqual(heard, ['fresh-install-mixed[v3,zypper]']);
  t.deepEqual(written, [{ reporter: 'listener', path: 'out/x.txt' }]);
  t.deepEqual(warnings, [
    'levelgate: reporter sync-thrower failed in onCellEnd: boom',
    'levelgate: reporter #2 failed in onCellEnd: late boom',
    'levelgate: reporter end-thrower failed in onEnd: cannot write',
  ]);
});

const MODULE = `import type { Reporter, CellResult } from 'levelgate';
export default (options: { prefix?: string }): Reporter => {
  const seen: string[] = [];
  return {
    onCellEnd: (r: CellResult) => void seen.push(r.id),
    onEnd: async () => { const { writeFile } = await import('node:fs/promises'); await writeFile('seen.txt', (options.prefix ?? '') + seen.join(',')); return 'seen.txt'; },
  };
};
`;
const CLASS_MODULE = `export default class Counter { constructor(options) { this.count = 0; this.options = options; } onCellEnd() { this.count++; } onEnd() { return 'counted ' + this.count + ' ' + this.options.tag; } }\n`;

test("reporters: built-in names with options, a TypeScript module with options, a class; --reporter replaces the list", async (t) => {
  const project = await tempProject({ 'my-reporter.ts': MODULE, 'counter.mjs': CLASS_MODULE, 'not-a-reporter.mjs': 'export default 42;\n' });
  const cwd = process.cwd();
  try {
    process.chdir(project.dir);
    const reporters = await resolveReporters({ reporters: ['terminal', ['junit', { outputFile: 'out/j.xml' }], ['./my-reporter.ts', { prefix: 'ids:' }], ['./counter.mjs', { tag: 'x' }]] }, { base: project.dir, cwd: project.dir });
    t.deepEqual(reporters.map((r) => r.name), ['terminal', 'junit', './my-reporter.ts', './counter.mjs']);
    const set = new ReporterSet(reporters.slice(2));
    set.onCellEnd(cellResult('pass'));
    t.deepEqual(await set.onEnd(runResult([cellResult('pass')])), [
      { reporter: './my-reporter.ts', path: 'seen.txt' },
      { reporter: './counter.mjs', path: 'counted 1 x' },
    ]);
    t.is(await readFile(path.join(project.dir, 'seen.txt'), 'utf8'), 'ids:fresh-install-mixed[v3,zypper]');
    // The default list, and the older paths form (false: not written).
    t.deepEqual((await resolveReporters({}, { base: project.dir, cwd: project.dir })).map((r) => r.name), ['terminal', 'json', 'junit', 'html']);
    t.deepEqual((await resolveReporters({ reporters: { html: false, json: 'o/g.json' } }, { base: project.dir, cwd: project.dir })).map((r) => r.name), ['terminal', 'json', 'junit']);
    // --reporter replaces the configured list; a report path given by flag adds its reporter.
    const flagged = await resolveReporters({ reporters: ['terminal', 'html'] }, { base: project.dir, cwd: project.dir, flags: ['json', './counter.mjs'], outputFiles: { junit: 'j.xml' } });
    t.deepEqual(flagged.map((r) => r.name), ['json', './counter.mjs', 'junit']);
    // Not a reporter, or nothing that loads: the field or flag is named.
    await t.throwsAsync(resolveReporters({ reporters: ['./not-a-reporter.mjs'] }, { base: project.dir, cwd: project.dir }), {
      message: './not-a-reporter.mjs: the default export is not a reporter: export an object with any of onBegin, onCellBegin, onStepEnd, onCellEnd, onEnd, or a function or class that returns one',
    });
    await t.throwsAsync(resolveReporters({}, { base: project.dir, cwd: project.dir, flags: ['xunit'] }), { message: /^--reporter xunit: 'xunit' is neither a built-in reporter \(terminal, json, junit, html\) nor a module that loads: / });
    await t.throwsAsync(resolveReporters({ reporters: ['./missing.ts'] }, { base: project.dir, cwd: project.dir }), { message: /^reporters\[0\]: '\.\/missing\.ts' is neither a built-in reporter/ });
  } finally {
    process.chdir(cwd);
    await project.remove();
  }
});

test('gate.json carries its schema version; a reader refuses another major version, and reads files without one', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-schema-'));
  try {
    const file = path.join(dir, 'gate.json');
    await jsonReporter(file).onEnd!(runResult([cellResult('pass')]));
    const written = JSON.parse(await readFile(file, 'utf8')) as { schemaVersion: string };
    t.is(written.schemaVersion, '1.1');
    t.is((await readRunResult(file)).cells.length, 1);
    await writeFile(file, JSON.stringify({ ...written, schemaVersion: '2.0' }));
    await t.throwsAsync(readRunResult(file), { message: `${file}: gate.json schema version 2.0 is not one this levelgate reads (1.x, it writes 1.1): a newer levelgate wrote it; merge with that version` });
    await writeFile(file, JSON.stringify({ ...written, schemaVersion: '1.7' }));
    t.is((await readRunResult(file)).cells.length, 1);
    const { schemaVersion: _v, ...old } = written;
    await writeFile(file, JSON.stringify(old));
    t.is((await readRunResult(file)).cells.length, 1);
    t.is(schemaProblem(1, 'f.json'), 'f.json: schemaVersion 1 is not MAJOR.MINOR');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('cell ids carry the run name, so merge joins runs of two images; the same image twice is still refused', (t) => {
  t.deepEqual(planCells(CATALOG, { scenarios: ['detection'], targets: ['v1'], name: 'fedora-45' }).map((c) => c.id), ['detection[v1,rpm]@fedora-45']);
  const of = (name: string) => runResult([cellResult('pass', { id: `fresh-install-mixed[v3,zypper]@${name}` })]);
  const merged = mergeRuns([
    { file: 'a/gate.json', run: of('fedora-45') },
    { file: 'b/gate.json', run: of('sid') },
  ]);
  t.deepEqual(merged.cells.map((c) => c.id), ['fresh-install-mixed[v3,zypper]@fedora-45', 'fresh-install-mixed[v3,zypper]@sid']);
  t.throws(() => mergeRuns([{ file: 'a/gate.json', run: of('sid') }, { file: 'b/gate.json', run: of('sid') }]), { message: 'merge: cell fresh-install-mixed[v3,zypper]@sid is in both a/gate.json and b/gate.json' });
});

test('gate --list shows the cells of the plan run() uses, in its order: the built-in catalog and a project', async (t) => {
  const empty = await mkdtemp(path.join(os.tmpdir(), 'levelgate-list-'));
  try {
    const planned = await planRun({ cwd: empty });
    const listed = await listPlan({ cwd: empty });
    t.is(planned.cells.length, 172);
    t.deepEqual(listed.cells.map((c) => c.id), planned.cells.map((c) => c.id));
    t.deepEqual(listed.cells.map((c) => [c.target, c.driver]), planned.cells.map((c) => [c.target.name, c.driver]));
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
  // levels: ['v1', 'x86-64-v3'] lists 4 cells, not 2 (the silent drop), through the CLI.
  const project = await tempProject({ ...HELLO, 'levelgate.config.ts': HELLO['levelgate.config.ts'].replace("['v1', 'v3']", "['v1', 'x86-64-v3']").replace("drivers: ['dnf5']", "drivers: ['dnf5', 'zypper']") });
  try {
    const r = await project.run(['gate', '--list', '--json']);
    t.is(r.exitCode, 0, r.stderr);
    const plan = JSON.parse(r.stdout) as { cells: { id: string; image: string }[] };
    t.deepEqual(plan.cells.map((c) => c.id), ['hello[v1,dnf5]', 'hello[v1,zypper]', 'hello[v3,dnf5]', 'hello[v3,zypper]']);
    t.deepEqual((await planRun({ cwd: project.dir })).cells.map((c) => c.id), plan.cells.map((c) => c.id));
    const named = await project.run(['gate', '--list', '--image', 'fedora-45.qcow2', '--level', 'v1', '--driver', 'dnf5']);
    t.is(named.exitCode, 0, named.stderr);
    t.regex(named.stdout, /^hello\[v1,dnf5\]@fedora-45 {2}v1 /);
    const bad = await project.run(['gate', '--list', '--json', 'plan.json']);
    t.is(bad.exitCode, 2);
    // Without QEMU (nothing on PATH): the list still comes, every accelerator "not probed".
    const bare = await project.run(['gate', '--list', '--json'], { PATH: path.join(project.dir, 'no-bin') });
    t.is(bare.exitCode, 0, bare.stderr);
    const unprobed = JSON.parse(bare.stdout) as { probed: boolean; cells: { accel: string | null; why: string }[] };
    t.false(unprobed.probed);
    t.true(unprobed.cells.length === 4 && unprobed.cells.every((c) => c.accel === null && c.why.startsWith('not probed: ')));
  } finally {
    await project.remove();
  }
});

test('run() from the public API refuses bad options before anything boots, naming what it did not understand', async (t) => {
  const { run } = await import('../../harness/index.js');
  const empty = await mkdtemp(path.join(os.tmpdir(), 'levelgate-run-'));
  try {
    await t.throwsAsync(run({ cwd: empty, levels: ['v1', 'x86-64-v9'] }), { message: /^levels\[1\]: 'x86-64-v9' is not a level or a near miss; known: levels v1, / });
    await t.throwsAsync(run({ cwd: empty, config: { levels: ['v2'], drivers: ['yum' as 'dnf5'] } }), { message: "the configuration given to run(): drivers[0]: 'yum' is not a driver; known: dnf5, zypper, rpm, apt, pacman" });
    await t.throwsAsync(run({ cwd: empty, scenarios: ['nope'] }), { message: /^--scenario: 'nope' is not a scenario; known: detection, / });
  } finally {
    await rm(empty, { recursive: true, force: true });
  }
});
