import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { chunk, settleInBatches } from '../../harness/compose/batches.js';
import { buildFiles, buildNevra, composeChunks, composeSpec, rpmbuildArgs } from '../../harness/compose/generate.js';
import { BENCH_VARIANT_SHARE, composeModel, DEFECT_KINDS, plantedDefects, variantNames, type ComposeModel } from '../../harness/compose/model.js';
import { readComposeMetadata } from '../../harness/compose/metadata.js';
import { chooseNames, namesOfShard, stratifiedSample } from '../../harness/compose/run.js';
import { dryRunInstall, linesAbout, parseDryRun, selectionCheck } from '../../harness/compose/selection.js';
import { dnf5 } from '../../harness/drivers/dnf5.js';
import { zypper } from '../../harness/drivers/zypper.js';
import type { AvailablePackage } from '../../harness/packages/available.js';
import { UsageError } from '../../harness/util/errors.js';

const model: ComposeModel = composeModel({ packages: 300, variantShare: 0.3, seed: 7, defects: [...DEFECT_KINDS] });
const builds = (release: '1' | '2', name: string) => model.releases[release].filter((b) => b.name === name);
const defectName = (kind: string) => [...plantedDefects(model)].find(([, k]) => k === kind)![0];

test('a compose model is the same for the same parameters and holds at least N packages a release', (t) => {
  t.deepEqual(composeModel(model.params), model);
  t.true(model.releases['1'].length >= 300 && model.releases['1'].length < 310);
  t.is(model.releases['2'].length, model.releases['1'].length);
  t.notDeepEqual(composeModel({ ...model.params, seed: 8 }).names, model.names);
});

test("the benchmark's share gives the issue's 3,000 multi-variant names at 10,000 packages, every defect planted by name", (t) => {
  const big = composeModel({ packages: 10_000, variantShare: BENCH_VARIANT_SHARE, seed: 1, defects: [...DEFECT_KINDS] });
  t.is(variantNames(big).length, 3000);
  t.true(big.releases['1'].length >= 10_000 && big.releases['1'].length < 10_010);
  t.deepEqual([...plantedDefects(big).values()].sort(), [...DEFECT_KINDS].sort());
});

test('every defect asked for is planted once, on a name the model knows, and the healthy patterns all appear', (t) => {
  const planted = plantedDefects(model);
  t.deepEqual([...planted.values()].sort(), [...DEFECT_KINDS].sort());
  t.deepEqual([...new Set(variantNames(model).filter((n) => !n.defect).map((n) => n.pattern))].sort(), ['all-levels', 'hwcaps-library', 'v3-baseline-subpackage', 'v3-only']);
  t.deepEqual(plantedDefects(composeModel({ ...model.params, defects: [] })).size, 0);
});

test('the planted defects have the shapes they are named for', (t) => {
  const mislabelled = builds('2', defectName('mislabelled'));
  t.deepEqual(mislabelled.find((b) => b.arch === 'x86_64')!.payload, { kind: 'program', level: 'v3' });
  // The lagging v3 build stays at N's version while x86_64 moves on in N+1 (and is healthy in N).
  const lag = builds('2', defectName('lagging'));
  t.not(lag.find((b) => b.arch === 'x86_64')!.version, lag.find((b) => b.arch === 'x86_64_v3')!.version);
  const lagN = builds('1', defectName('lagging'));
  t.is(lagN.find((b) => b.arch === 'x86_64')!.version, lagN.find((b) => b.arch === 'x86_64_v3')!.version);
  const wrongDir = builds('1', defectName('wrong-hwcaps-dir'))[0]!;
  t.deepEqual(wrongDir.payload.kind === 'library' ? wrongDir.payload.copies : [], [{ hwcaps: '', level: 'v1' }, { hwcaps: 'x86-64-v2', level: 'v3' }]);
  t.true(builds('1', defectName('broken-dependency')).every((b) => b.requires.some((r) => r.startsWith('lgc-missing-capability('))));
  const unreachable = builds('1', defectName('unreachable-v3'));
  t.deepEqual(unreachable.map((b) => [b.arch, b.requires.includes('lgc-missing-v3-runtime')]), [['x86_64', false], ['x86_64_v3', true]]);
});

test('a v3 name with a baseline-only subpackage requires it at its own version; the subpackage requires nothing', (t) => {
  const name = variantNames(model).find((n) => n.pattern === 'v3-baseline-subpackage')!.name;
  const all = builds('1', name);
  const common = builds('1', `${name}-common`);
  t.deepEqual(common.map((b) => [b.arch, b.requires]), [['x86_64', []]]);
  for (const b of all) t.true(b.requires.includes(`${name}-common = ${b.version}-1`));
});

test('one spec builds a chunk of a release and arch: a subpackage per build, each with its version, no automatic dependencies, its files', (t) => {
  const few = model.releases['1'].filter((b) => b.arch === 'x86_64').slice(0, 2);
  const spec = composeSpec({ key: '1-x86_64-0', release: '1', arch: 'x86_64', builds: few });
  t.true(spec.startsWith('Name: lgc-compose-1-x86_64-0\nVersion: 0\nRelease: 1\n'));
  for (const b of few) {
    t.true(spec.includes(`%package -n ${b.name}\nVersion: ${b.version}\nRelease: 1\nSummary: levelgate compose package ${b.name}\nAutoReqProv: no\n`));
    t.true(spec.includes(`%files -n ${b.name}\n${buildFiles(b).map((f) => f.path).join('\n')}\n`));
  }
  t.true(spec.includes('%install\ncp -al /build/src/1-x86_64-0/. %{buildroot}/\n'));
});

test('chunks: every build of both releases exactly once, each chunk one release and arch and at most the size', (t) => {
  const chunks = composeChunks(model, 50);
  const all = [...model.releases['1'], ...model.releases['2']];
  t.is(chunks.reduce((n, c) => n + c.builds.length, 0), all.length);
  t.deepEqual(new Set(chunks.flatMap((c) => c.builds.map((b) => `${buildNevra(b)}`))).size, all.length);
  for (const c of chunks) {
    t.true(c.builds.length > 0 && c.builds.length <= 50, c.key);
    t.true(c.builds.every((b) => b.arch === c.arch && b.release === c.release), c.key);
  }
  t.is(new Set(chunks.map((c) => c.key)).size, chunks.length);
  t.true(chunks.some((c) => c.key === '2-x86_64-1'));
});

test('rpmbuild runs a chunk with nothing a generated package does not need, OpenMP passive on one thread', (t) => {
  t.deepEqual(rpmbuildArgs({ key: '1-noarch-0', arch: 'noarch' }), [
    'env', 'OMP_WAIT_POLICY=passive', 'OMP_NUM_THREADS=1', 'rpmbuild', '--quiet', '-bb',
    '--define', '_topdir /build/top/1-noarch-0', '--define', 'debug_package %{nil}', '--define', '__strip /bin/true',
    '--define', '_build_id_links none', '--define', '__os_install_post %{nil}', '/build/specs/1-noarch-0.spec',
  ]);
  t.deepEqual(rpmbuildArgs({ key: '2-x86_64_v3-0', arch: 'x86_64_v3' }).slice(6, 8), ['--target', 'x86_64_v3']);
});

test('a program ships its identity beside the shared level payload; a library its copies, one per glibc-hwcaps directory', (t) => {
  t.deepEqual(buildFiles({ name: 'lgc-v1', version: '1.0', release: '2', arch: 'x86_64_v3', payload: { kind: 'program', level: 'v3' }, requires: [], provides: [] }), [
    { path: '/usr/bin/lgc-v1', payload: 'program-v3' },
    { path: '/usr/share/lgc/id/lgc-v1', text: 'lgc-v1 1.0-2 x86_64_v3\n' },
  ]);
  t.deepEqual(buildFiles({ name: 'liblgc1', version: '1', release: '1', arch: 'x86_64', payload: { kind: 'library', soname: 'liblgc1.so.1', copies: [{ hwcaps: '', level: 'v1' }, { hwcaps: 'x86-64-v3', level: 'v3' }] }, requires: [], provides: [] }), [
    { path: '/usr/lib64/liblgc1.so.1', payload: 'library-v1-baseline.so' },
    { path: '/usr/lib64/glibc-hwcaps/x86-64-v3/liblgc1.so.1', payload: 'library-v3-x86-64-v3.so' },
  ]);
});

test('dry runs are each tool\'s own install command, never acting: dnf5 --assumeno, zypper --xmlout install --dry-run', (t) => {
  t.deepEqual(dryRunInstall(dnf5, ['a', 'b']).argv, ['dnf5', '--releasever=sid', '--setopt=reposdir=/etc/levelgate/dnf5/repos.d', '--setopt=cachedir=/var/cache/levelgate/dnf5', '--setopt=system_cachedir=/var/cache/levelgate/dnf5', '--setopt=install_weak_deps=False', 'install', 'a', 'b', '--assumeno']);
  t.deepEqual(dryRunInstall(zypper, ['a']).argv, ['zypper', '--xmlout', '--non-interactive', '--no-gpg-checks', '--reposd-dir', '/etc/levelgate/zypp/repos.d', '--cache-dir', '/var/cache/levelgate/zypp', 'install', '--dry-run', 'a']);
});

const DNF5_TABLE = `Package          Arch   Version    Repository      Size
Installing:
 lgc-v00005      x86_64 0:3.9-2    c           16.0 KiB
 liblgc00009     x86_64 1:3.19-2   c           30.0 KiB
Installing dependencies:
 lgc-d00010      noarch 0:4.2.1-2  c           26.0   B

Transaction Summary:
 Installing:        3 packages
`;
const ZYPPER_XML = `<install-summary download-size="1">
<to-install>
<solvable type="package" name="lgc-d00010" edition="4.2.1-2" arch="noarch" repository="c" summary="x">
<description>x</description></solvable>
<solvable type="package" name="lgc-v00008" edition="4.14-2" arch="x86_64_v3" repository="c" summary="y">
</solvable>
</to-install>
</install-summary>`;

test("each name's choice is read from the tool's own answer: dnf5's transaction table, zypper's install summary", (t) => {
  t.deepEqual(parseDryRun('dnf5', DNF5_TABLE), [
    { name: 'lgc-v00005', arch: 'x86_64', epoch: 0, version: '3.9', release: '2' },
    { name: 'liblgc00009', arch: 'x86_64', epoch: 1, version: '3.19', release: '2' },
    { name: 'lgc-d00010', arch: 'noarch', epoch: 0, version: '4.2.1', release: '2' },
  ]);
  t.deepEqual(parseDryRun('zypper', ZYPPER_XML), [
    { name: 'lgc-d00010', epoch: 0, version: '4.2.1', release: '2', arch: 'noarch' },
    { name: 'lgc-v00008', epoch: 0, version: '4.14', release: '2', arch: 'x86_64_v3' },
  ]);
  t.deepEqual(parseDryRun('zypper', '<stream><prompt id="1"/></stream>'), []);
});

const offered: AvailablePackage[] = [
  { name: 'lag', epoch: 0, version: '1.0', release: '1', arch: 'x86_64_v3' },
  { name: 'lag', epoch: 0, version: '1.1', release: '1', arch: 'x86_64' },
  { name: 'ok', epoch: 0, version: '2', release: '1', arch: 'x86_64' },
  { name: 'ok', epoch: 0, version: '2', release: '1', arch: 'x86_64_v3' },
];

test('a selection passes on the best variant only; a lagging v3 build chosen is "older", a baseline chosen on v3 is "arch", nothing chosen "missing"', (t) => {
  t.is(selectionCheck('ok', 'v3', offered, [offered[3]!]).status, 'pass');
  t.like(selectionCheck('ok', 'v3', offered, [offered[2]!]), { status: 'fail', deviation: 'arch', expected: '2-1.x86_64_v3 (the best variant for v3)', actual: '2-1.x86_64' });
  t.like(selectionCheck('lag', 'v3', offered, [offered[0]!]), { status: 'fail', deviation: 'older' });
  t.like(selectionCheck('ok', 'v2', offered, []), { status: 'fail', deviation: 'missing', actual: 'nothing' });
  t.is(selectionCheck('ok', 'v2', offered, [offered[2]!]).status, 'pass');
});

test("a name's evidence in a batch's answer is the lines about it, not about names it prefixes", (t) => {
  const text = ' lgc-v0001  x86_64 0:1-1 c\n lgc-v00010 x86_64 0:1-1 c\n- nothing provides x needed by lgc-v0001-1-1.x86_64\n';
  t.is(linesAbout('lgc-v0001', text), ' lgc-v0001  x86_64 0:1-1 c\n- nothing provides x needed by lgc-v0001-1-1.x86_64');
});

test('a refused batch is split until each culprit stands alone; the others are settled in the halves the tool accepts', async (t) => {
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
  const tried: string[][] = [];
  const settled = await settleInBatches(names, 4, async (batch) => {
    tried.push([...batch]);
    return batch.includes('c') || batch.includes('f') ? { kind: 'refused', value: batch.length } : { kind: 'ok', value: batch.length };
  });
  t.deepEqual(settled.map((s) => [s.names, s.outcome.kind]), [[['a', 'b'], 'ok'], [['c'], 'refused'], [['d'], 'ok'], [['e'], 'ok'], [['f'], 'refused'], [['g'], 'ok']]);
  t.deepEqual(tried[0], ['a', 'b', 'c', 'd']);
  // Every name ends in exactly one group.
  t.deepEqual(settled.flatMap((s) => s.names).sort(), names);
});

test('a batch whose attempt throws is an error for its names only', async (t) => {
  const settled = await settleInBatches(['a', 'b', 'c'], 2, async (batch) => {
    if (batch.includes('c')) throw new Error('guest lost');
    return { kind: 'ok', value: 0 };
  });
  t.deepEqual(settled.map((s) => [s.names, s.outcome.kind]), [[['a', 'b'], 'ok'], [['c'], 'error']]);
  t.throws(() => chunk(['a'], 0), { message: 'batch size 0 is not a whole number of at least 1' });
});

test('a stratified sample takes every pattern, in proportion, the same names every time', (t) => {
  const names = Array.from({ length: 100 }, (_, i) => `n${String(i).padStart(3, '0')}`);
  const patternOf = (n: string) => (Number(n.slice(1)) < 90 ? 'big' : Number(n.slice(1)) < 99 ? 'mid' : 'one');
  const sample = stratifiedSample(names, patternOf, 10);
  t.deepEqual(sample, stratifiedSample(names, patternOf, 10));
  t.is(sample.filter((n) => patternOf(n) === 'big').length, 9);
  t.is(sample.filter((n) => patternOf(n) === 'mid').length, 1);
  t.deepEqual(sample.filter((n) => patternOf(n) === 'one'), ['n099']);
  t.deepEqual(stratifiedSample(names, patternOf, 500), names);
});

test('bad input: a directory without metadata and a name not in the compose are usage errors naming them', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-compose-unit-'));
  try {
    const error = await t.throwsAsync(readComposeMetadata(dir), { instanceOf: UsageError });
    t.is(error!.message, `${dir} is not a repository: it has no repodata/repomd.xml (rpm-md), dists/SUITE/Release (apt) or NAME.db (pacman)`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const compose = { packages: offered, auditNames: ['lag', 'ok'] } as unknown as Parameters<typeof chooseNames>[0];
  t.throws(() => chooseNames(compose, ['ok', 'nope', 'nada'], '/srv/c'), { instanceOf: UsageError, message: '--packages: nope, nada are not in the compose /srv/c' });
  t.deepEqual(chooseNames(compose, ['ok', 'ok'], '/srv/c'), ['ok']);
  t.deepEqual(chooseNames(compose, undefined, '/srv/c'), ['lag', 'ok']);
});

test('a refused batch tries the names the tool blamed alone first, and the rest as one batch', async (t) => {
  const tried: string[][] = [];
  const settled = await settleInBatches(['a', 'b', 'c', 'd', 'e'], 5, async (batch) => {
    tried.push([...batch]);
    return batch.includes('d') ? { kind: 'refused', value: 0, suspects: ['d', 'zz'] } : { kind: 'ok', value: 0 };
  });
  t.deepEqual(tried, [['a', 'b', 'c', 'd', 'e'], ['d'], ['a', 'b', 'c', 'e']]);
  t.deepEqual(settled.map((s) => [s.names, s.outcome.kind]), [[['d'], 'refused'], [['a', 'b', 'c', 'e'], 'ok']]);
});

test('the shards of a compose audit judge every name once and install and run exactly what one unsharded run would', (t) => {
  const names = Array.from({ length: 57 }, (_, i) => `pkg${String(i).padStart(3, '0')}`).reverse();
  const patternOf = (n: string) => ['all-levels', 'v3-only', 'glibc-hwcaps'][Number(n.slice(3)) % 3]!;
  const whole = namesOfShard(names, patternOf, 12, undefined);
  t.is(whole.runNames.length, 12);
  for (const total of [1, 2, 5]) {
    const shards = Array.from({ length: total }, (_, i) => namesOfShard(names, patternOf, 12, { index: i + 1, total }));
    const judged = shards.flatMap((s) => s.names);
    t.deepEqual([...judged].sort(), [...names].sort(), `${total} shards judge every name`);
    t.is(new Set(judged).size, judged.length, `${total} shards judge no name twice`);
    t.deepEqual(shards.flatMap((s) => s.runNames).sort(), [...whole.runNames].sort(), `${total} shards run the unsharded sample`);
    for (const s of shards) t.true(s.runNames.every((n) => s.names.includes(n)), 'a shard runs only its own names');
  }
  // Broken on purpose: sampling within each shard would not give the unsharded sample.
  const perShard = [1, 2].flatMap((index) => stratifiedSample(namesOfShard(names, patternOf, 'all', { index, total: 2 }).names, patternOf, 12).slice(0, 6));
  t.notDeepEqual(perShard.sort(), [...whole.runNames].sort());
});

test('a compose name is an ordinary cell carrying its package name and pattern; a name its batch could not judge is an error for it alone', async (t) => {
  const { nameCell } = await import('../../harness/compose/name-cell.js');
  const base = { title: 'libfoo', level: 'v3' as const, driver: 'zypper', steps: [], guest: undefined, timings: { totalMs: 1, bootMs: 0, packageManagerMs: 0, programMs: 0 }, repro: 'levelgate compose DIR --packages libfoo', pattern: 'glibc-hwcaps' };
  const judged = nameCell({ ...base, scenario: 'variant-audit.libfoo', packageName: 'libfoo' }, [], '2026-12-07');
  t.is(judged.id, 'variant-audit.libfoo[v3,zypper]');
  t.is(judged.packageName, 'libfoo');
  t.is(judged.pattern, 'glibc-hwcaps');
  const failed = nameCell({ ...base, scenario: 'variant-audit.libfoo', packageName: 'libfoo', error: 'the dry run of its batch timed out' }, [], '2026-12-07');
  t.is(failed.verdict, 'error');
  t.is(failed.reason, 'the dry run of its batch timed out');
  t.is(failed.errorSource, 'harness');
});
