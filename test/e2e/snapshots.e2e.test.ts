// Snapshots of booted, proven guests: a cell restored from one gives the same verdict
// and the same installed sets, step by step, as the same cell booted cold; the
// snapshot is never written by a restore; a damaged snapshot is rebuilt, never used;
// an interrupted build publishes nothing.
import { cp, readdir, readFile, stat, truncate, chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { BACKENDS } from '../../harness/accel/backends.js';
import { factDetectors } from '../../harness/drivers/detectors.js';
import { ensureQemuSnapshot } from '../../harness/guest/qemu-snapshot.js';
import { QemuGuest } from '../../harness/guest/qemu-guest.js';
import { planCells } from '../../harness/plan/plan.js';
import { runCell } from '../../harness/run/cell.js';
import { prepareRun, type Prepared } from '../../harness/run/prepare.js';
import { BackendGuests } from '../../harness/run/session.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';
import { leftovers, removeScratch, scratchDir } from './helpers.js';
import { exactTarget, parseTargetName } from '../../harness/levels/targets.js';
import { snapshotKey } from '../../harness/guest/qemu-snapshot.js';
import { qemuCpuArgument } from '../../harness/levels/qemu-cpu.js';
import { LevelProofError } from '../../harness/util/errors.js';

let scratch: string;
let prepared: Prepared;

test.before(async () => {
  scratch = await scratchDir('snapshots');
  prepared = await prepareRun(CATALOG, 'tcg');
});

test.after.always(async () => {
  await removeScratch(scratch);
});

test.serial('a cell restored from a snapshot and the same cell booted cold give the same verdict and installed sets, step by step', async (t) => {
  const cell = planCells(CATALOG, { scenarios: ['moved-to-older-cpu'], targets: ['v3'], drivers: ['zypper'] })[0]!;
  const env = (snapshots: boolean) => ({
    ...prepared,
    guests: new BackendGuests({ image: prepared.artifacts, dataDisks: prepared.dataDisks, snapshots }),
    knownIssues: KNOWN_ISSUES,
    evidenceDir: path.join(scratch, snapshots ? 'restored' : 'cold'),
    today: '2026-12-01',
  });
  const restored = await runCell(cell, env(true));
  const cold = await runCell(cell, env(false));
  t.is(restored.facts?.start, 'snapshot');
  t.is(cold.facts?.start, 'cold');
  // Both asked live, in their own guest, the CPU's detectors and the zypper cell's tools' (rpm, libzypp): each answered v3.
  for (const r of [restored, cold]) t.deepEqual(r.facts?.detectors?.map((d) => [d.detector, d.level, d.failure]), [...factDetectors('zypper', false)].map((d) => [d, 'v3', undefined]), r.facts?.start);
  t.is(restored.verdict, cold.verdict, `${restored.reason}\n--- cold: ${cold.reason}`);
  t.deepEqual(
    restored.steps.map((s) => [s.title, s.level, s.installedAfter, s.checks.map((c) => `${c.check}: ${c.status} ${c.actual}`)]),
    cold.steps.map((s) => [s.title, s.level, s.installedAfter, s.checks.map((c) => `${c.check}: ${c.status} ${c.actual}`)]),
  );
  // The restored cell is proven again, live; the move to the older CPU is a cold boot with its own proof.
  t.deepEqual(restored.proofs.map((p) => p.proven), ['v3', 'v2']);
  t.true(restored.timings.bootMs < cold.timings.bootMs, `restore ${restored.timings.bootMs} ms vs cold ${cold.timings.bootMs} ms`);
});

test.serial('restores never write the snapshot; two restores run at once, each with its own disk', async (t) => {
  const snapshot = await BACKENDS.tcg.snapshots!.ensure({ image: prepared.artifacts, target: exactTarget('v2'), dataDisks: prepared.dataDisks, options: {} });
  const dir = path.dirname(snapshot.bootConsole);
  const before = await Promise.all((await readdir(dir)).map(async (f) => [f, (await stat(path.join(dir, f))).mtimeMs] as const));
  const restore = async (n: number) => {
    const disk = await snapshot.newDiskState(path.join(scratch, `restore-${n}`));
    const guest = await snapshot.restore({ image: prepared.artifacts, level: 'v2', disk, dataDisks: prepared.dataDisks, tmpDir: scratch });
    try {
      t.is(guest.proof.proven, 'v2');
      t.is((await guest.exec(['sh', '-c', `echo ${n} > /root/mark && cat /root/mark`])).stdout, `${n}\n`);
      // The clock was set on restore, not left at the moment of the save.
      const seconds = Number((await guest.exec(['date', '+%s'])).stdout.trim());
      t.true(Math.abs(seconds - Date.now() / 1000) < 30, `guest clock ${seconds}`);
      return (await guest.exec(['cat', '/proc/sys/kernel/random/uuid'])).stdout;
    } finally {
      await guest.dispose();
    }
  };
  const [a, b] = await Promise.all([restore(1), restore(2)]);
  t.not(a, b, 'restored guests do not share their random state');
  const after = await Promise.all((await readdir(dir)).map(async (f) => [f, (await stat(path.join(dir, f))).mtimeMs] as const));
  t.deepEqual(after, before);
  t.deepEqual((await leftovers(scratch)).processes, []);
});

test.serial('a damaged snapshot is rebuilt, not used', async (t) => {
  const cacheDir = path.join(scratch, 'cache');
  const spec = { image: prepared.artifacts, level: 'v1' as const, accel: 'tcg' as const, dataDisks: [] };
  const first = await ensureQemuSnapshot(spec, { cacheDir });
  await chmod(first.state, 0o644);
  await truncate(first.state, 1000);
  const second = await ensureQemuSnapshot(spec, { cacheDir });
  t.is(second.key, first.key);
  t.not(second.manifest.createdAt, first.manifest.createdAt, 'rebuilt');
  const guest = await QemuGuest.restore({ image: prepared.artifacts, level: 'v1', accel: 'tcg', tmpDir: scratch }, second);
  t.is(guest.proof.proven, 'v1');
  await guest.dispose();
});

test.serial('a snapshot whose build is interrupted is never published', async (t) => {
  const cacheDir = path.join(scratch, 'cache-interrupted');
  const controller = new AbortController();
  const building = ensureQemuSnapshot({ image: prepared.artifacts, level: 'v2', accel: 'tcg', dataDisks: [] }, { cacheDir, signal: controller.signal });
  setTimeout(() => controller.abort(), 1500);
  await t.throwsAsync(building);
  t.deepEqual((await readdir(path.join(cacheDir, 'snapshots')).catch(() => [])).filter((f) => !f.endsWith('.lock')), []);
  t.deepEqual((await leftovers(scratch)).processes, []);
});

test.serial("a restored guest is proven live: a snapshot copied onto another CPU's key fails its proof", async (t) => {
  const cacheDir = path.join(scratch, 'cache-copied');
  const v2 = { image: prepared.artifacts, level: 'v2' as const, accel: 'tcg' as const, dataDisks: [] };
  const v3 = { ...v2, level: 'v3' as const };
  const saved = await ensureQemuSnapshot(v2, { cacheDir });
  // A restore of the right snapshot reruns the proof: CPUID read live, canaries rerun.
  const good = await QemuGuest.restore({ image: prepared.artifacts, level: 'v2', accel: 'tcg', tmpDir: scratch }, saved);
  t.is(good.proof.proven, 'v2');
  t.true(good.proof.cpuid.includes('POPCNT') && !good.proof.cpuid.includes('AVX'), good.proof.cpuid.join(' '));
  t.true(good.timings.proofMs > 0);
  await good.dispose();
  // The v2 snapshot's files under the v3 key, its manifest naming that key: it loads, and the restore is refused.
  const { key } = await snapshotKey(v3);
  const copy = path.join(cacheDir, 'snapshots', key);
  await cp(saved.dir, copy, { recursive: true });
  const manifest = path.join(copy, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ ...JSON.parse(await readFile(manifest, 'utf8')), key }));
  const forged = await ensureQemuSnapshot(v3, { cacheDir });
  t.is(forged.dir, copy, 'the copy is taken for the v3 snapshot');
  const error = await t.throwsAsync(QemuGuest.restore({ image: prepared.artifacts, level: 'v3', accel: 'tcg', tmpDir: scratch }, forged), { instanceOf: LevelProofError });
  t.regex(error.message, /restored from a snapshot does not see v3/);
  t.deepEqual((await leftovers(scratch)).processes, []);
});

test.serial('a near-miss snapshot restored on a CPU that has the missing feature is refused by CPUID read live', async (t) => {
  const target = parseTargetName('v3-fma')!;
  const snapshot = await ensureQemuSnapshot({ image: prepared.artifacts, level: 'v2', target, accel: 'tcg', dataDisks: [] }, { cacheDir: path.join(scratch, 'cache-fma') });
  // The saved RAM (cpuinfo) still says v3-fma; only the live CPUID and canaries can tell.
  const error = await t.throwsAsync(
    QemuGuest.restore({ image: prepared.artifacts, level: 'v2', target, cpu: qemuCpuArgument('v3'), accel: 'tcg', tmpDir: scratch }, snapshot),
    { instanceOf: LevelProofError },
  );
  t.regex(error.message, /does not see v3-fma/);
  t.regex(error.details ?? '', /cpuid: the CPU has FMA, which v3-fma .* lacks/);
});
