// repro exits with its cell's verdict, Ctrl-C on a kept guest included; merge refuses
// to call a run green when a job it expected (a level, a shard) left no result (issue
// 17, item 10, the run and report parts).
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { INTERRUPTED } from '../../harness/run/cell.js';
import { expectedMissing, mergeCommand, mergeRuns } from '../../runners/merge.js';
import { reproExitCode } from '../../runners/repro.js';
import { cellResult, runResult } from '../fixtures/results.js';

test("repro exits with the verdict's code, also when Ctrl-C ended a kept guest (repro --keep)", (t) => {
  t.is(reproExitCode(cellResult('fail'), 'SIGINT'), 1);
  t.is(reproExitCode(cellResult('xpass'), 'SIGINT'), 1);
  t.is(reproExitCode(cellResult('error'), 'SIGINT'), 3);
  t.is(reproExitCode(cellResult('pass'), 'SIGINT'), 0);
  t.is(reproExitCode(cellResult('skip'), undefined), 77);
  t.is(reproExitCode(cellResult('fail'), undefined), 1);
  // Stopped before the cell had a verdict: interrupted.
  t.is(reproExitCode(cellResult('error', { reason: INTERRUPTED }), 'SIGINT'), 130);
  t.is(reproExitCode(cellResult('error', { reason: INTERRUPTED }), 'SIGTERM'), 143);
});

const at = (target: string, driver = 'rpm') => cellResult('pass', { id: `s[${target},${driver}]`, target, driver });

test('merge --expect-levels: a level no input has is named as missing', (t) => {
  const merged = mergeRuns([{ file: 'v1.json', run: runResult([at('v1')]) }, { file: 'v2.json', run: runResult([at('v2')]) }]);
  t.deepEqual(expectedMissing([], merged, { levels: ['v1', 'v2'] }), []);
  // What each job's summary said about slower backends survives the merge.
  const slower = { level: 'v3', backend: 'Bochs', reason: 'tcg: TCG did not boot the guest kernel within 20 s' };
  t.deepEqual(mergeRuns([{ file: 'v3.json', run: runResult([at('v3')], { slowerBackends: [slower] }) }]).slowerBackends, [slower]);
  t.deepEqual(expectedMissing([], merged, { levels: ['v1', 'v2', 'v3', 'v4'] }), ['level v3: no input has a cell at v3', 'level v4: no input has a cell at v4']);
});

test('merge --expect-shards: a shard no input is, a different count, or an input without a shard is named', (t) => {
  const shard = (s: string | undefined, file: string, target = 'v1') => ({ file, run: runResult([at(target, file)], s ? { shard: s } : {}) });
  const runs = [shard('1/3', 'a'), shard('3/3', 'c')];
  t.deepEqual(expectedMissing(runs, mergeRuns(runs), { shards: 3 }), ['shard 2/3: no input is that shard']);
  const all = [...runs, shard('2/3', 'b')];
  t.deepEqual(expectedMissing(all, mergeRuns(all), { shards: 3 }), []);
  const other = [shard('1/2', 'a'), shard('2/2', 'b'), shard(undefined, 'c')];
  t.deepEqual(expectedMissing(other, mergeRuns(other), { shards: 3 }), [
    'a: is shard 1/2, not one of 3',
    'b: is shard 2/2, not one of 3',
    'c: is not a shard (run with --shard I/3)',
    'shard 1/3: no input is that shard',
    'shard 2/3: no input is that shard',
    'shard 3/3: no input is that shard',
  ]);
});

test('levelgate merge: a missing level exits 3 naming it and writes nothing; all present merges; a bad level is a usage error', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-merge-'));
  const errors: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  const quiet = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((chunk: string) => (errors.push(String(chunk)), true)) as typeof process.stderr.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    const v1 = path.join(dir, 'v1.json');
    const v2 = path.join(dir, 'v2.json');
    await writeFile(v1, JSON.stringify(runResult([at('v1')])));
    await writeFile(v2, JSON.stringify(runResult([at('v2')])));
    const out = ['--json', path.join(dir, 'm/gate.json'), '--junit', path.join(dir, 'm/junit.xml'), '--html', path.join(dir, 'm/report.html')];
    t.is(await mergeCommand(['--expect-levels', 'v1,v2,v3', ...out, v1, v2]), 3);
    t.regex(errors.join(''), /merge: 1 expected result is missing: level v3: no input has a cell at v3/);
    await t.throwsAsync(access(path.join(dir, 'm/gate.json')));
    t.is(await mergeCommand(['--expect-levels', 'v1,v2', ...out, v1, v2]), 0);
    await t.notThrowsAsync(access(path.join(dir, 'm/gate.json')));
    t.is(await mergeCommand(['--expect-levels', 'v1,v9', ...out, v1, v2]), 2);
    t.regex(errors.join(''), /--expect-levels: 'v9' is not a level or a near miss/);
    t.is(await mergeCommand(['--expect-shards', '2', ...out, v1, v2]), 3);
    t.regex(errors.join(''), /v1\.json: is not a shard \(run with --shard I\/2\)/);
  } finally {
    process.stderr.write = write;
    process.stdout.write = quiet;
    await rm(dir, { recursive: true, force: true });
  }
});
