import test from 'ava';
import { any, defineScenario, detect, install, enable, variants } from '../../harness/index.js';
import { proveLevel } from '../../harness/levels/proof.js';
import { qemuCpuArgument } from '../../harness/levels/qemu-cpu.js';
import { ALL_TARGETS, describeTarget, NEAR_MISS_TARGETS, parseTargetName, targetAbsentFeatures, targetCpuid, targetFeatures, targetRunsFeatures } from '../../harness/levels/targets.js';
import { getLevel } from '../../harness/levels/table.js';
import { CANARY_OUTPUT_V2, CPUID, CPUINFO_FLAGS, cpuinfo, V3_FMA } from '../fixtures/guest-output.js';
import { issuesCovering, validateKnownIssues } from '../../harness/plan/known-issues.js';
import { defineKnownIssue, deviation } from '../../harness/plan/known-issue-api.js';
import { planCells } from '../../harness/plan/plan.js';

const GLIBC_V2 = 'Subdirectories of glibc-hwcaps directories, in priority order:\n  x86-64-v4\n  x86-64-v3\n  x86-64-v2 (supported, searched)\n';
const V2_FLAGS = 'fpu cx8 cmov mmx fxsr sse sse2 syscall lm pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm';

test('one near miss per feature a level adds over the level below: 7 of v2, 9 of v3, 5 of v4', (t) => {
  t.is(NEAR_MISS_TARGETS.length, 21);
  const byLevel = (of: string) => NEAR_MISS_TARGETS.filter((n) => n.nearMiss?.of === of).map((n) => n.name);
  t.deepEqual(byLevel('v2'), ['v2-cmpxchg16b', 'v2-lahf-sahf', 'v2-popcnt', 'v2-sse3', 'v2-sse4_1', 'v2-sse4_2', 'v2-ssse3']);
  t.is(byLevel('v3').length, 9);
  t.true(byLevel('v3').includes('v3-lzcnt'));
  t.is(byLevel('v4').length, 5);
  // Each meets the level below the one it nearly is.
  t.true(NEAR_MISS_TARGETS.every((n) => n.level === ({ v1: 'none', v2: 'v1', v3: 'v2', v4: 'v3' } as const)[n.nearMiss!.of]));
});

test('an OS near miss: a v3 CPU with every v3 bit in CPUID whose kernel leaves XSAVE off', (t) => {
  const target = parseTargetName('v3-noxsave')!;
  t.deepEqual([target.level, target.nearMiss?.by, target.kernelArgs], ['v2', 'os', ['noxsave']]);
  t.true(qemuCpuArgument(target).split(',').includes('+xsave'));
  t.is(describeTarget(target), 'v3-noxsave (a v3 CPU whose kernel leaves OSXSAVE off (noxsave): meets v2)');
});

test('a near-miss name parses; levels keep their spellings; anything else is undefined', (t) => {
  t.is(parseTargetName('v3-fma')?.nearMiss?.missing.psabi, 'FMA');
  t.is(parseTargetName('x86_64_v3')?.name, 'v3');
  t.is(parseTargetName('V2')?.name, 'v2');
  t.is(parseTargetName('v3-sse2'), undefined);
  t.is(describeTarget(parseTargetName('v3-fma')!), 'v3-fma (a v3 CPU without FMA: meets v2)');
});

test('a near miss has every feature of its level but one, and the QEMU model removes exactly that one among that level', (t) => {
  const fma = parseTargetName('v3-fma')!;
  const v3 = parseTargetName('v3')!;
  t.deepEqual(
    targetFeatures(v3).map((f) => f.psabi).filter((f) => !targetFeatures(fma).some((g) => g.psabi === f)),
    ['FMA'],
  );
  t.true(targetAbsentFeatures(fma).some((f) => f.psabi === 'FMA'));
  const cpu = qemuCpuArgument(fma).split(',');
  t.true(cpu.includes('-fma') && cpu.includes('+avx2') && cpu.includes('+movbe') && cpu.includes('-avx512f'));
  t.is(cpu.at(-1), 'enforce');
  t.false(cpu.includes('+fma'));
});

test("a near miss's proof accepts the features of the level it nearly is, but not its missing one nor a feature above", (t) => {
  const target = parseTargetName('v3-fma')!;
  // A measured v3-fma guest (QEMU 7.2 TCG); the variations change only the cpuinfo flags.
  const evidence = (flags: string) => ({ cpuinfo: `flags\t\t: ${flags}\n`, cpuid: V3_FMA.cpuid, glibcHelp: GLIBC_V2, canaryOutput: V3_FMA.canaries });
  const good = proveLevel(target, evidence(V3_FMA.flags));
  t.true(good.ok, good.problems.join('; '));
  t.is(good.target, 'v3-fma');
  t.is(good.proven, 'v2');
  const withFma = proveLevel(target, evidence(`${V3_FMA.flags} fma`));
  t.false(withFma.ok);
  t.regex(withFma.problems.join('\n'), /fma is present, but v3-fma is pinned without FMA/);
  const withAvx512 = proveLevel(target, evidence(`${V3_FMA.flags} avx512f`));
  t.regex(withAvx512.problems.join('\n'), /flags above v3-fma are present: avx512f/);
  // The same flags on an exact v2 CPU are a pin that is not exact.
  t.false(proveLevel('v2', evidence(`${V2_FLAGS} avx`)).ok);
});

test('a plain v2 CPU presented as v3-fma fails its proof: CPUID, cpuinfo and the canaries each lack the rest of v3', (t) => {
  const target = parseTargetName('v3-fma')!;
  const proof = proveLevel(target, { cpuinfo: cpuinfo(CPUINFO_FLAGS.v2), cpuid: CPUID.v2, glibcHelp: GLIBC_V2, canaryOutput: CANARY_OUTPUT_V2 });
  t.false(proof.ok);
  t.deepEqual(proof.problems, [
    'cpuinfo: avx avx2 bmi1 bmi2 f16c abm movbe xsave are missing, but v3-fma lacks only FMA',
    'canary: no result for AVX, which v3-fma has',
    'canary avx2-vpaddd (v3) should run on v3-fma, which has AVX2, but gave sigill -',
    'canary: no result for BMI1, which v3-fma has',
    'canary bmi2-pdep (v3) should run on v3-fma, which has BMI2, but gave sigill -',
    'canary: no result for F16C, which v3-fma has',
    'canary lzcnt (v3) should run on v3-fma, which has LZCNT, but gave wrong lzcnt(1)=0(executed-as-bsr)',
    'canary movbe (v3) should run on v3-fma, which has MOVBE, but gave sigill -',
    'canary: no result for OSXSAVE, which v3-fma has',
    'cpuid: the CPU lacks AVX AVX2 BMI1 BMI2 F16C LZCNT MOVBE OSXSAVE, which v3-fma (a v3 CPU without FMA: meets v2) has',
  ]);
  // Each kind of evidence alone refuses it: CPUID read live (what a restored guest cannot fake), and the canaries.
  const v3FmaButCpuid = proveLevel(target, { cpuinfo: `flags\t\t: ${V3_FMA.flags}\n`, cpuid: CPUID.v2, glibcHelp: GLIBC_V2, canaryOutput: V3_FMA.canaries });
  t.deepEqual(v3FmaButCpuid.problems, ['cpuid: the CPU lacks AVX AVX2 BMI1 BMI2 F16C LZCNT MOVBE OSXSAVE, which v3-fma (a v3 CPU without FMA: meets v2) has']);
  const v3FmaButCanaries = proveLevel(target, { cpuinfo: `flags\t\t: ${V3_FMA.flags}\n`, cpuid: V3_FMA.cpuid, glibcHelp: GLIBC_V2, canaryOutput: V3_FMA.canaries.replace('movbe v3 ok movbe=0x44332211', 'movbe v3 sigill -') });
  t.deepEqual(v3FmaButCanaries.problems, ['canary movbe (v3) should run on v3-fma, which has MOVBE, but gave sigill -']);
  // The missing feature present in CPUID is refused too.
  const withFmaBit = proveLevel(target, { cpuinfo: `flags\t\t: ${V3_FMA.flags}\n`, cpuid: CPUID.v3, glibcHelp: GLIBC_V2, canaryOutput: V3_FMA.canaries });
  t.deepEqual(withFmaBit.problems, ['cpuid: the CPU has FMA, which v3-fma (a v3 CPU without FMA: meets v2) lacks']);
});

test('what a near miss must run and show: AVX-state instructions need AVX and XSAVE; an OS near miss keeps its CPUID bits but OSXSAVE', (t) => {
  const runs = (name: string) => targetRunsFeatures(parseTargetName(name)!).filter((f) => getLevel('v3').adds.includes(f)).map((f) => f.psabi);
  t.deepEqual(runs('v3-fma'), ['AVX', 'AVX2', 'BMI1', 'BMI2', 'F16C', 'LZCNT', 'MOVBE', 'OSXSAVE']);
  t.deepEqual(runs('v3-avx'), ['BMI1', 'BMI2', 'LZCNT', 'MOVBE']);
  t.deepEqual(runs('v3-noxsave'), ['BMI1', 'BMI2', 'LZCNT', 'MOVBE']);
  const names = (fs: readonly { psabi: string }[]) => fs.map((f) => f.psabi).filter((n) => getLevel('v3').adds.some((g) => g.psabi === n));
  t.deepEqual(names(targetCpuid(parseTargetName('v3-noavxstate')!).present), getLevel('v3').adds.map((f) => f.psabi));
  t.deepEqual(names(targetCpuid(parseTargetName('v3-noxsave')!).absent), ['OSXSAVE']);
  t.deepEqual(names(targetCpuid(parseTargetName('v3-lzcnt')!).absent), ['LZCNT']);
});

const made = defineScenario({ id: 'made-for-near-misses', title: 'detects', drivers: ['rpm'], nearMisses: true, steps: [detect()] });
const plain = defineScenario({ id: 'plain', title: 'installs', drivers: ['rpm'], repos: { r: variants('p', '1', ['x86_64']) }, steps: [enable('r'), install('p')] });

test('--near-misses adds the near misses to the scenarios made for them; --level names one for any scenario', (t) => {
  t.is(planCells([made, plain]).length, 8);
  const all = planCells([made, plain], { nearMisses: true });
  t.is(all.length, 8 + 23);
  t.true(all.filter((c) => c.target.nearMiss).every((c) => c.scenario.id === 'made-for-near-misses'));
  t.deepEqual(
    planCells([made, plain], { targets: ['v3-fma'] }).map((c) => [c.id, c.level]),
    [
      ['made-for-near-misses[v3-fma,rpm]', 'v2'],
      ['plain[v3-fma,rpm]', 'v2'],
    ],
  );
  // With --level v3 --near-misses: v3 and the near misses that meet v3 (those of v4).
  t.deepEqual(
    planCells([made], { targets: ['v3'], nearMisses: true }).map((c) => c.target.name),
    ['v3', 'v4-avx512f', 'v4-avx512bw', 'v4-avx512cd', 'v4-avx512dq', 'v4-avx512vl'],
  );
});

test('known issues cover near misses by name or pattern, and name unknown targets as problems', (t) => {
  const issue = defineKnownIssue({
    id: 'x',
    reason: 'r',
    tracker: 'https://example.org/1',
    expires: '2099-01-01',
    scenarios: ['detection'],
    targets: ['v3-*'],
    explains: [deviation.detectedArch(any)],
  });
  const at = (target: string, level: 'v1' | 'v2' | 'v3') => issuesCovering({ scenario: 'detection', level, target, driver: 'rpm' }, [issue], '2026-12-01').live.length;
  t.is(at('v3-fma', 'v2'), 1);
  t.is(at('v3', 'v3'), 0);
  t.is(at('v2-popcnt', 'v1'), 0);
  t.deepEqual(validateKnownIssues([{ ...issue, targets: ['v3-fmaa'] }], 'issues.ts'), [
    `issues.ts[0] (x): targets: 'v3-fmaa' names no CPU target; known: ${ALL_TARGETS.map((n) => n.name).join(', ')}`,
  ]);
});
