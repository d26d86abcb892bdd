// A compose audit split by name over N CI jobs (--shard I/N) and merged gives the
// verdicts, counts, known-issue findings and exit code of one unsharded run; merge
// refuses shards that overlap, that come from different splits, or that are missing.
import test from 'ava';
import { parseShard, shardNames } from '../../harness/plan/shard.js';
import { exitCodeOf } from '../../harness/results/summary.js';
import type { CellResult, RunResult } from '../../harness/results/types.js';
import { expectedMissing, mergeRuns } from '../../runners/merge.js';
import { composeCells, composeRun } from '../fixtures/compose-results.js';

// Every lagging-variant cell is covered by its known issue; only its xfail cells use it,
// so a shard without one of them alone would call the issue idle.
const lagging = { id: 'compose/lagging-variant', reason: 'the lagging variant is known', tracker: 'https://tracker.example/1234', expires: '2027-06-30' };
const expired = { id: 'compose/old', reason: 'fixed long ago', tracker: 'https://tracker.example/1', expires: '2026-01-31' };
const CELLS: CellResult[] = composeCells({ names: 900 }).map((c) =>
  c.pattern === 'lagging-variant' ? { ...c, coveringKnownIssues: [lagging], ...(c.packageName === 'lgc-v00002' ? { expiredKnownIssues: [expired] } : {}) } : c,
);
const NAMES = [...new Set(CELLS.map((c) => c.packageName!))];

/** The jobs of a CI matrix of N: each judges its shard's names at every level and driver. */
function shardedRuns(total: number, cells: readonly CellResult[] = CELLS): { file: string; run: RunResult }[] {
  return Array.from({ length: total }, (_, i) => {
    const mine = new Set(shardNames(NAMES, { index: i + 1, total }));
    return { file: `shard-${i + 1}/gate.json`, run: composeRun(cells.filter((c) => mine.has(c.packageName!)), { shard: `${i + 1}/${total}` }) };
  });
}

/** Each cell id with its verdict and reason, in id order (a merge lists the cells shard by shard). */
const verdicts = (run: RunResult) => run.cells.map((c) => `${c.id} ${c.verdict}: ${c.reason}`).sort();

test('shards by name are whole, disjoint, complete, balanced and independent of the order names come in', (t) => {
  const shards = [1, 2, 3, 4].map((index) => shardNames(NAMES, { index, total: 4 }));
  t.is(shards.flat().length, NAMES.length);
  t.is(new Set(shards.flat()).size, NAMES.length);
  t.true(Math.max(...shards.map((s) => s.length)) - Math.min(...shards.map((s) => s.length)) <= 1);
  t.deepEqual(shardNames([...NAMES].reverse(), { index: 2, total: 4 }), shards[1]);
  t.deepEqual(shardNames([...NAMES, ...NAMES], { index: 2, total: 4 }), shards[1]);
  t.deepEqual(shardNames(['b', 'a', 'C', 'c'], { index: 1, total: 2 }), ['C', 'b']);
  // One shard of the run holds every level and driver of each of its names.
  for (const { run } of shardedRuns(3)) {
    const byName = new Map<string, number>();
    for (const cell of run.cells) byName.set(cell.packageName!, (byName.get(cell.packageName!) ?? 0) + 1);
    t.true([...byName.values()].every((n) => n === 6));
  }
});

for (const total of [1, 2, 3, 7]) {
  test(`merging ${total} shard${total > 1 ? 's' : ''} gives the unsharded run's verdicts, counts, known-issue findings and exit code`, (t) => {
    const whole = composeRun(CELLS);
    const jobs = shardedRuns(total);
    const merged = mergeRuns(jobs);
    t.deepEqual(expectedMissing(jobs, merged, {}), []);
    t.deepEqual(verdicts(merged), verdicts(whole));
    t.deepEqual(merged.counts, whole.counts);
    t.is(merged.flaky, whole.flaky);
    t.deepEqual(merged.expiredKnownIssues, whole.expiredKnownIssues);
    t.deepEqual(merged.idleKnownIssues, whole.idleKnownIssues);
    t.is(exitCodeOf(merged), exitCodeOf(whole));
    t.is(exitCodeOf(whole), 1);
    t.deepEqual(whole.expiredKnownIssues.map((i) => i.id), ['compose/old']);
  });
}

test('the merge recomputes what one shard alone gets wrong: an issue idle in one shard is not idle in the whole run', (t) => {
  const jobs = shardedRuns(7);
  t.true(jobs.some((j) => j.run.idleKnownIssues?.some((i) => i.id === lagging.id)));
  t.deepEqual(composeRun(CELLS).idleKnownIssues, []);
  t.deepEqual(mergeRuns(jobs).idleKnownIssues, []);
});

test('a name that fails in one shard fails the merged run, as it fails the unsharded one', (t) => {
  const passing = CELLS.map((c) => ({ ...c, verdict: 'pass' as const, reason: 'every check passed', knownIssues: [], expiredKnownIssues: [] }));
  t.is(exitCodeOf(mergeRuns(shardedRuns(3, passing))), 0);
  const broken = passing.map((c) => (c.id === 'compose.lgc-v00500[v3,zypper]' ? { ...c, verdict: 'fail' as const, reason: 'selection: chose x86_64' } : c));
  t.is(exitCodeOf(composeRun(broken)), 1);
  t.is(exitCodeOf(mergeRuns(shardedRuns(3, broken))), 1);
});

test('merge refuses a missing shard, a shard given twice, and shards of different splits, naming them', (t) => {
  const [one, two, three] = shardedRuns(3);
  const some = [one!, three!];
  t.deepEqual(expectedMissing(some, mergeRuns(some), {}), ['shard 2/3: no input is that shard (the inputs are shards of 3)']);
  t.throws(() => mergeRuns([one!, two!, { ...two!, file: 'again/gate.json' }, three!]), {
    message: 'merge: shard 2/3 is given twice, in shard-2/gate.json and again/gate.json (both at v1,dnf5 v1,zypper v2,dnf5 v2,zypper v3,dnf5 v3,zypper)',
  });
  const [half] = shardedRuns(2);
  t.throws(() => mergeRuns([one!, half!]), {
    message: 'merge: the inputs are shards of different splits (shard-1/gate.json: 1/3, shard-1/gate.json: 1/2): shards of one split (I/N, one N) merge into one run',
  });
  // A matrix of levels × shards: shard 1/2 of the v1 job and of the v2 job are not the same shard twice.
  const at = (level: 'v1' | 'v2', index: number) => {
    const mine = new Set(shardNames(NAMES, { index, total: 2 }));
    return { file: `${level}-${index}.json`, run: composeRun(CELLS.filter((c) => c.level === level && mine.has(c.packageName!)), { shard: `${index}/2` }) };
  };
  const matrix = [at('v1', 1), at('v1', 2), at('v2', 1), at('v2', 2)];
  t.is(mergeRuns(matrix).cells.length, CELLS.filter((c) => c.level !== 'v3').length);
  t.deepEqual(parseShard('3/7'), { index: 3, total: 7 });
});
