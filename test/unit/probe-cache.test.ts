// Only definitive probe answers are remembered (issue 17, item 6): a booted guest, a CPU
// QEMU refuses under enforce, an accelerator that does not exist. A timeout or a panic
// is asked again next run, and a level that falls to a slower backend because of such
// an answer says so in the run's summary.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { ProbeResult } from '../../harness/accel/backend.js';
import { chooseAccel } from '../../harness/accel/choose.js';
import { cachedProbes, probeAll, probeForRequest } from '../../harness/accel/probe.js';
import { classifyProbeFailure } from '../../harness/accel/qemu-backend.js';
import type { ImageArtifacts } from '../../harness/image/build.js';
import { parseTargetName } from '../../harness/levels/targets.js';
import { closingLines } from '../../harness/report/terminal.js';
import { cellResult, runResult } from '../fixtures/results.js';

const image = { digest: 'probe-cache-test' } as ImageArtifacts;
const v3fma = parseTargetName('v3-fma')!;

/** A probe that records its calls and gives `answer`. */
function fakeProbe(answer: Omit<ProbeResult, 'accel' | 'target' | 'durationMs'>) {
  const calls: string[] = [];
  return {
    calls,
    probe: async (accel: ProbeResult['accel'], target: { name: string }): Promise<ProbeResult> => (calls.push(`${accel} ${target.name}`), { accel, target: target.name, durationMs: 1, ...answer }),
  };
}

test('a definitive answer is cached; the same answer edited to "timed out" in the cache is asked again', async (t) => {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-probes-'));
  try {
    const refused = fakeProbe({ works: false, reason: 'Bochs has no CPU model one feature short of v3', definitive: true });
    await probeAll(['bochs'], [v3fma], image, { cacheDir, probe: refused.probe });
    await probeAll(['bochs'], [v3fma], image, { cacheDir, probe: refused.probe });
    t.deepEqual(refused.calls, ['bochs v3-fma']);
    // Someone's earlier run under load: the cache says it timed out.
    const file = path.join(cacheDir, 'probes.json');
    const cache = JSON.parse(await readFile(file, 'utf8')) as { entries: { key: string; results: ProbeResult[] }[] };
    cache.entries[0]!.results = cache.entries[0]!.results.map((r) => ({ ...r, reason: 'Bochs did not run a v3 guest: guest lg-1 did not boot within 120 s', definitive: false }));
    await writeFile(file, JSON.stringify(cache));
    const again = fakeProbe({ works: false, reason: 'Bochs has no CPU model one feature short of v3', definitive: true });
    const [result] = await probeAll(['bochs'], [v3fma], image, { cacheDir, probe: again.probe });
    t.deepEqual(again.calls, ['bochs v3-fma']);
    t.is(result!.reason, 'Bochs has no CPU model one feature short of v3');
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});

test('two images on one host keep their own cached answers (two checkouts do not evict each other); an older one-key file is read', async (t) => {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-probes-'));
  try {
    const other = { ...image, digest: `${image.digest}-other` };
    const booted = fakeProbe({ works: true, reason: 'booted the guest kernel', definitive: true });
    await probeAll(['tcg'], [v3fma], image, { cacheDir, probe: booted.probe });
    await probeAll(['tcg'], [v3fma], other, { cacheDir, probe: booted.probe });
    await probeAll(['tcg'], [v3fma], image, { cacheDir, probe: booted.probe });
    await probeAll(['tcg'], [v3fma], other, { cacheDir, probe: booted.probe });
    t.deepEqual(booted.calls, ['tcg v3-fma', 'tcg v3-fma'], 'each image probed once');
    t.is((await cachedProbes(image.digest, cacheDir))?.length, 1);
    // The file an earlier levelgate wrote: { key, results }.
    const file = path.join(cacheDir, 'probes.json');
    const { entries } = JSON.parse(await readFile(file, 'utf8')) as { entries: { key: string; results: ProbeResult[] }[] };
    const mine = entries.find((e) => e.key.endsWith(` ${image.digest}`))!;
    await writeFile(file, JSON.stringify(mine));
    await probeAll(['tcg'], [v3fma], image, { cacheDir, probe: booted.probe });
    t.deepEqual(booted.calls, ['tcg v3-fma', 'tcg v3-fma'], 'the one-key file still answers');
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});

test('probes of one process written at once all land, and leave no temporary file (each write has its own)', async (t) => {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-probes-'));
  try {
    const booted = fakeProbe({ works: true, reason: 'booted the guest kernel', definitive: true });
    const images = Array.from({ length: 6 }, (_, i) => ({ ...image, digest: `${image.digest}-${i}` }));
    await Promise.all(images.map((im) => probeAll(['tcg'], [v3fma], im, { cacheDir, probe: booted.probe })));
    t.is(booted.calls.length, 6);
    t.deepEqual((await readdir(cacheDir)).filter((f) => f.endsWith('.tmp')), []);
    const { entries } = JSON.parse(await readFile(path.join(cacheDir, 'probes.json'), 'utf8')) as { entries: unknown[] };
    t.true(entries.length >= 1);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});

test('a timeout or a panic is not cached: the next run asks again', async (t) => {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-probes-'));
  try {
    const slow = fakeProbe({ works: false, reason: 'TCG did not boot the guest kernel within 20 s', definitive: false });
    await probeAll(['tcg'], [v3fma], image, { cacheDir, probe: slow.probe });
    await probeAll(['tcg'], [v3fma], image, { cacheDir, probe: slow.probe });
    t.deepEqual(slow.calls, ['tcg v3-fma', 'tcg v3-fma']);
    // A guest that booted is a definitive answer: cached.
    const booted = fakeProbe({ works: true, reason: 'booted the guest kernel', definitive: true });
    await probeAll(['tcg'], [v3fma], image, { cacheDir, probe: booted.probe });
    await probeAll(['tcg'], [v3fma], image, { cacheDir, probe: booted.probe });
    t.deepEqual(booted.calls, ['tcg v3-fma']);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});

test("QEMU's answers: an enforce refusal and a missing KVM are definitive; a timeout, a panic or a KVM that fails are not", (t) => {
  t.true(classifyProbeFailure('tcg', "qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID.07H:EBX.avx512f [bit 16]\n", false).definitive);
  t.true(classifyProbeFailure('kvm', 'Could not access KVM kernel module: No such file or directory\n', false).definitive);
  t.false(classifyProbeFailure('tcg', '', true).definitive);
  t.false(classifyProbeFailure('tcg', 'Kernel panic - not syncing: VFS: Unable to mount root fs\n', false).definitive);
  t.false(classifyProbeFailure('kvm', 'KVM internal error. Suberror: 1\nemulation failure\n', false).definitive);
  t.false(classifyProbeFailure('tcg', 'something else\n', false).definitive);
});

const answer = (accel: ProbeResult['accel'], works: boolean, reason: string, definitive: boolean): ProbeResult => ({ accel, target: 'v3', works, reason, durationMs: 1, definitive });

test('a level that falls to a slower backend because a probe did not answer definitively says why, in the summary', (t) => {
  const choice = chooseAccel('v3', 'auto', [
    answer('kvm', false, 'KVM is not available: Could not access KVM kernel module', true),
    answer('tcg', false, 'TCG did not boot the guest kernel within 20 s', false),
    answer('bochs', true, 'booted the guest and proved v3', true),
  ]);
  t.is(choice.accel, 'bochs');
  t.is(choice.accel !== null ? choice.fallback : undefined, 'tcg: TCG did not boot the guest kernel within 20 s');
  // A definitive refusal (TCG has no AVX-512) is no fallback to report.
  const v4 = chooseAccel('v3', 'auto', [answer('kvm', false, 'KVM is not available', true), answer('tcg', false, 'TCG cannot provide this CPU: avx512f', true), answer('bochs', true, 'proved', true)]);
  t.is(v4.accel !== null ? v4.fallback : 'none', undefined);
  const run = runResult([cellResult('pass')], { slowerBackends: [{ level: 'v3', backend: 'Bochs', reason: 'tcg: TCG did not boot the guest kernel within 20 s' }] });
  t.true(closingLines(run).includes('level v3 runs under Bochs because a faster backend did not answer its probe (tcg: TCG did not boot the guest kernel within 20 s); that probe is asked again next run'));
});

test('auto asks KVM at a CPU where it would only mask CPUID last, and only when no emulator that traps provides it (a hanging KVM costs nothing then)', async (t) => {
  const cacheDir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-probes-'));
  try {
    const v1 = parseTargetName('v1')!;
    const v3 = parseTargetName('v3')!;
    const calls: string[] = [];
    const works = (tcg: boolean) => async (accel: ProbeResult['accel'], target: { name: string }): Promise<ProbeResult> => {
      calls.push(`${accel} ${target.name}`);
      const ok = accel === 'tcg' ? tcg : false;
      return { accel, target: target.name, durationMs: 1, works: ok, reason: ok ? 'booted the guest kernel' : `${accel} did not boot within 20 s`, definitive: ok };
    };
    const results = await probeForRequest('auto', [v1, v3], image, { cacheDir, probe: works(true) });
    // KVM would trap at v3 (AVX needs state the guest kernel enables): asked first there; at v1 never, TCG provides it.
    t.deepEqual(calls.filter((c) => c.startsWith('kvm')), ['kvm v3']);
    t.is(chooseAccel('v1', 'auto', results).accel, 'tcg');
    // Without a trapping emulator for v1, KVM is asked after all (its masks-only guests are better than none).
    calls.length = 0;
    await probeForRequest('auto', [v1], image, { cacheDir: path.join(cacheDir, 'second'), probe: works(false) });
    t.deepEqual(calls.filter((c) => c.startsWith('kvm')), ['kvm v1']);
    t.true(calls.indexOf('kvm v1') > calls.indexOf('tcg v1'));
    // An explicit request probes what it names, whatever the CPU.
    calls.length = 0;
    await probeForRequest('kvm', [v1], image, { cacheDir: path.join(cacheDir, 'third'), probe: works(true) });
    t.deepEqual(calls, ['kvm v1']);
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
});
