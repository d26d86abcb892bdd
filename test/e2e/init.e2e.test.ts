// A project from nothing, as a QA engineer starts one: `levelgate init` scaffolds it,
// `check` passes, `gate --list` shows its plan, and a gate of its scenario at one level
// runs the very cells the list showed and passes. A second run under another name
// (`name:` in the configuration, as an image's name does) merges with the first: cell
// ids carry the run's name.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import test from 'ava';
import type { RunResult } from '../../harness/results/types.js';
import { CLI } from '../fixtures/project.js';
import { leftovers, removeScratch, scratchDir } from './helpers.js';

let scratch: string;
let project: string;
const levelgate = (args: string[]) => execa('node', [CLI, ...args], { cwd: project, reject: false, all: true, env: { TMPDIR: path.join(scratch, 'tmp') } });

test.before(async () => {
  scratch = await scratchDir('init');
  project = path.join(scratch, 'qa');
  await execa('mkdir', ['-p', path.join(scratch, 'tmp')]);
});

test.after.always(async () => {
  await removeScratch(scratch);
});

test.serial('init scaffolds a project that checks clean, lists its plan and runs it at one level', async (t) => {
  t.timeout(20 * 60_000);
  const init = await execa('node', [CLI, 'init', project], { reject: false, all: true });
  t.is(init.exitCode, 0, init.all);
  t.is(await readFile(path.join(project, '.github/workflows/levelgate.yml'), 'utf8'), await readFile(path.join(CLI, '../../../docs/ci/github-actions.yml'), 'utf8'));
  const check = await levelgate(['check']);
  t.is(check.exitCode, 0, check.all);
  t.regex(check.stdout, /planned cells 8 \(levels v1, v2, v3, v4; drivers dnf5, zypper\)/);

  const list = await levelgate(['gate', '--list', '--json', '--level', 'v1', '--driver', 'dnf5']);
  t.is(list.exitCode, 0, list.all);
  const plan = JSON.parse(list.stdout) as { cells: { id: string }[] };
  t.deepEqual(plan.cells.map((c) => c.id), ['hello[v1,dnf5]']);

  const gate = await levelgate(['gate', '--level', 'v1', '--driver', 'dnf5']);
  t.is(gate.exitCode, 0, gate.all);
  const report = JSON.parse(await readFile(path.join(project, 'reports/gate.json'), 'utf8')) as RunResult & { schemaVersion: string };
  t.is(report.schemaVersion, '1.1');
  // The run dispatched exactly what the list showed, in its order.
  t.deepEqual(report.cells.map((c) => c.id), plan.cells.map((c) => c.id));
  t.is(report.cells[0]!.verdict, 'pass', report.cells[0]!.reason);
  t.deepEqual(report.cells[0]!.steps[1]!.installedAfter, ['lghello-1.0-1.x86_64']);
  t.deepEqual((await leftovers(path.join(scratch, 'tmp'))).processes, []);
});

test.serial("a second run under another name merges with the first: the cell ids carry each run's name", async (t) => {
  t.timeout(20 * 60_000);
  const config = path.join(project, 'levelgate.config.ts');
  const original = await readFile(config, 'utf8');
  await writeFile(config, original.replace("drivers: ['dnf5', 'zypper'],", "drivers: ['dnf5', 'zypper'],\n  name: 'second',").replaceAll('reports/', 'reports-second/'));
  try {
    const gate = await levelgate(['gate', '--level', 'v1', '--driver', 'dnf5']);
    t.is(gate.exitCode, 0, gate.all);
  } finally {
    await writeFile(config, original);
  }
  const second = JSON.parse(await readFile(path.join(project, 'reports-second/gate.json'), 'utf8')) as RunResult;
  t.deepEqual(second.cells.map((c) => c.id), ['hello[v1,dnf5]@second']);
  const merge = await levelgate(['merge', '--json', 'merged/gate.json', '--junit', 'merged/junit.xml', '--html', 'merged/report.html', 'reports/gate.json', 'reports-second/gate.json']);
  t.is(merge.exitCode, 0, merge.all);
  const merged = JSON.parse(await readFile(path.join(project, 'merged/gate.json'), 'utf8')) as RunResult;
  t.deepEqual(merged.cells.map((c) => c.id), ['hello[v1,dnf5]', 'hello[v1,dnf5]@second']);
  // The same run twice is still refused.
  const twice = await levelgate(['merge', '--json', 'merged/again.json', 'reports/gate.json', 'reports/gate.json']);
  t.is(twice.exitCode, 2);
  t.regex(twice.all ?? '', /merge: cell hello\[v1,dnf5\] is in both reports\/gate\.json and reports\/gate\.json/);
});
