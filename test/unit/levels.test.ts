import test from 'ava';
import { judgeCanaries, parseCanaryOutput } from '../../harness/levels/canaries.js';
import { levelFromCpuFlags, levelFromGlibcHelp, parseCpuinfoFlags } from '../../harness/levels/detect.js';
import { proveLevel } from '../../harness/levels/proof.js';
import { qemuCpuArgument } from '../../harness/levels/qemu-cpu.js';
import { featuresAbove, featuresUpTo, LEVELS, parseLevelName } from '../../harness/levels/table.js';
import { CANARY_OUTPUT_V2, CANARY_OUTPUT_V2_KVM, CPUID, CPUINFO_FLAGS, cpuinfo, glibcHelp } from '../fixtures/guest-output.js';

const flags = (s: string) => new Set(s.split(' '));

test('the level table follows the psABI: 10 + 7 + 9 + 5 features', (t) => {
  t.deepEqual(
    LEVELS.map((l) => [l.name, l.adds.length, l.rpmArch, l.hwcaps]),
    [
      ['v1', 10, 'x86_64', null],
      ['v2', 7, 'x86_64_v2', 'x86-64-v2'],
      ['v3', 9, 'x86_64_v3', 'x86-64-v3'],
      ['v4', 5, 'x86_64_v4', 'x86-64-v4'],
    ],
  );
  t.is(featuresUpTo('v3').length + featuresAbove('v3').length, 31);
});

test('qemu -cpu arguments pin each level exactly on qemu64 with enforce', (t) => {
  t.is(
    qemuCpuArgument('v1'),
    'qemu64,+cmov,+cx8,+fpu,+fxsr,+mmx,+syscall,+sse,+sse2,+lm,-cx16,-lahf-lm,-popcnt,-pni,-sse4.1,-sse4.2,-ssse3,' +
      '-avx,-avx2,-bmi1,-bmi2,-f16c,-fma,-abm,-movbe,-xsave,-xsaveopt,-avx512f,-avx512bw,-avx512cd,-avx512dq,-avx512vl,enforce',
  );
  t.is(
    qemuCpuArgument('v3'),
    'qemu64,+cmov,+cx8,+fpu,+fxsr,+mmx,+syscall,+sse,+sse2,+lm,+cx16,+lahf-lm,+popcnt,+pni,+sse4.1,+sse4.2,+ssse3,' +
      '+avx,+avx2,+bmi1,+bmi2,+f16c,+fma,+abm,+movbe,+xsave,+xsaveopt,-avx512f,-avx512bw,-avx512cd,-avx512dq,-avx512vl,enforce',
  );
  for (const level of ['v1', 'v2', 'v3', 'v4'] as const) {
    const arg = qemuCpuArgument(level);
    t.true(arg.startsWith('qemu64,') && arg.endsWith(',enforce'), level);
    t.false(/\b(host|max)\b/.test(arg), level);
  }
});

test('parseLevelName accepts the spellings distributions use', (t) => {
  t.is(parseLevelName('v3'), 'v3');
  t.is(parseLevelName('x86-64-v2'), 'v2');
  t.is(parseLevelName('x86_64_v4'), 'v4');
  t.is(parseLevelName('x86_64'), 'v1');
  t.is(parseLevelName('v5'), undefined);
  t.is(parseLevelName('haswell'), undefined);
});

test('cpuinfo flags give the level and the flags that stray above it', (t) => {
  t.deepEqual(levelFromCpuFlags(flags(CPUINFO_FLAGS.v1)), { level: 'v1', missingForNext: ['cx16', 'lahf_lm', 'popcnt', 'pni', 'sse4_1', 'sse4_2', 'ssse3'], stray: [] });
  t.is(levelFromCpuFlags(flags(CPUINFO_FLAGS.v2)).level, 'v2');
  t.deepEqual(levelFromCpuFlags(flags(CPUINFO_FLAGS.v3)), { level: 'v3', missingForNext: ['avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'], stray: [] });
  // Plain qemu64 is not a v1 CPU: three v2 bits stray above it.
  t.deepEqual(levelFromCpuFlags(flags(CPUINFO_FLAGS.qemu64)).stray, ['cx16', 'lahf_lm', 'pni']);
  t.is(levelFromCpuFlags(new Set(['fpu'])).level, null);
});

test('parseCpuinfoFlags reads the first flags line', (t) => {
  t.true(parseCpuinfoFlags(cpuinfo(CPUINFO_FLAGS.v2)).has('sse4_2'));
  t.is(parseCpuinfoFlags('processor : 0\n').size, 0);
});

test('glibc hwcaps: the highest supported subdirectory is the level', (t) => {
  t.deepEqual(levelFromGlibcHelp(glibcHelp(['x86-64-v3', 'x86-64-v2'])), { level: 'v3', supported: ['x86-64-v3', 'x86-64-v2'] });
  t.deepEqual(levelFromGlibcHelp(glibcHelp([])), { level: 'v1', supported: [] });
  t.is(levelFromGlibcHelp('Usage: ld.so\n'), undefined);
});

test('canaries: TCG traps everything above v2, LZCNT included by its wrong value', (t) => {
  const results = parseCanaryOutput(CANARY_OUTPUT_V2);
  t.is(results.length, 11);
  t.deepEqual(results.find((r) => r.name === 'lzcnt'), { name: 'lzcnt', level: 'v3', outcome: 'wrong', detail: 'lzcnt(1)=0(executed-as-bsr)' });
  const verdict = judgeCanaries('v2', results);
  t.is(verdict.fidelity, 'traps');
  t.deepEqual(verdict.brokenAtLevel, []);
  // The same output read as a v3 guest: the v3 instructions should have run.
  t.deepEqual(judgeCanaries('v3', results).brokenAtLevel.map((c) => c.name), ['avx2-vpaddd', 'bmi2-pdep', 'movbe', 'fma-vfmadd', 'lzcnt']);
  t.is(judgeCanaries('v4', parseCanaryOutput(CANARY_OUTPUT_V2)).fidelity, 'untested');
});

test('canaries: KVM only masks CPUID, and the verdict says so', (t) => {
  const verdict = judgeCanaries('v2', parseCanaryOutput(CANARY_OUTPUT_V2_KVM));
  t.is(verdict.fidelity, 'masks-only');
  t.deepEqual(verdict.leakedAbove.map((c) => c.name), ['bmi2-pdep', 'movbe', 'lzcnt']);
});

test('proveLevel accepts a guest that sees exactly its level', (t) => {
  const proof = proveLevel('v2', { cpuinfo: cpuinfo(CPUINFO_FLAGS.v2), cpuid: CPUID.v2, glibcHelp: glibcHelp(['x86-64-v2']), canaryOutput: CANARY_OUTPUT_V2 });
  t.true(proof.ok);
  t.is(proof.proven, 'v2');
  t.is(proof.glibcLevel, 'v2');
  t.is(proof.fidelity, 'traps');
  t.deepEqual(proof.problems, []);
});

test('proveLevel catches a level mismatch, with every reason', (t) => {
  const proof = proveLevel('v3', { cpuinfo: cpuinfo(CPUINFO_FLAGS.v2), cpuid: CPUID.v2, glibcHelp: glibcHelp(['x86-64-v2']), canaryOutput: CANARY_OUTPUT_V2 });
  t.false(proof.ok);
  t.is(proof.proven, 'v2');
  t.deepEqual(proof.problems.slice(0, 3), [
    'cpuinfo: the guest sees v2, not v3 (missing for the next level: avx avx2 bmi1 bmi2 f16c fma abm movbe xsave)',
    'glibc: the dynamic loader supports v2, not v3',
    'canary avx2-vpaddd (v3) should run at v3 but gave sigill -',
  ]);
});

test('proveLevel rejects plain qemu64 as v1: the pin is not exact', (t) => {
  const proof = proveLevel('v1', { cpuinfo: cpuinfo(CPUINFO_FLAGS.qemu64), cpuid: CPUID.v1, glibcHelp: glibcHelp([]), canaryOutput: CANARY_OUTPUT_V2.replace(/ v2 ok \S+/g, ' v2 sigill -') });
  t.false(proof.ok);
  t.deepEqual(proof.problems, ['cpuinfo: flags above v1 are present: cx16 lahf_lm pni (the pin is not exact)']);
});

test('proveLevel refuses evidence that is missing', (t) => {
  const proof = proveLevel('v2', { cpuinfo: '', cpuid: '', glibcHelp: '', canaryOutput: '' });
  t.deepEqual(proof.problems, [
    'cpuinfo: no flags line in /proc/cpuinfo',
    'glibc: `ld.so --help` printed no glibc-hwcaps section (glibc older than 2.33?)',
    'canaries: levelgate-canary printed no results',
    'cpuid: `ld.so --list-diagnostics` printed no CPUID words (glibc older than 2.33?)',
  ]);
});
