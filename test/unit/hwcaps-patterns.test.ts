import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { parseModalias } from '../../harness/drivers/detectors.js';
import { cpuModalias, levelModaliasGlob, modaliasFeatures, modaliasMatches } from '../../harness/levels/modalias.js';
import { LEVELS, levelIndex } from '../../harness/levels/table.js';
import { ALL_TARGETS, parseTargetName, type CpuTarget } from '../../harness/levels/targets.js';
import {
  HWCAPS_PATTERNS,
  hwcapsOverlayBuild,
  hwcapsPatternBuild,
  OPENSUSE_V3_SUPPLEMENTS,
  patternsDue,
  patternsSelected,
  patternsSelectedWrongly,
  type HwcapsPattern,
} from '../../harness/repos/hwcaps-patterns.js';
import { hexdecode, modaliasCapability, modaliasSupplementHolds, parseModaliasSupplement } from '../../harness/repos/modalias-supplement.js';
import { fnmatch } from '../../harness/util/fnmatch.js';

const target = (name: string): CpuTarget => parseTargetName(name)!;
const levels = (patterns: readonly HwcapsPattern[]) => patterns.map((p) => p.level);
const PSABI_NUMBERS = new Set(LEVELS.flatMap((l) => l.adds.flatMap((f) => (f.linux === null ? [] : [f.linux]))));

/** /sys/devices/system/cpu/modalias of real guests (QEMU TCG), from the detection samples. */
const MEASURED = ['v3', 'v3-lzcnt', 'v3-osxsave'] as const;
let CPU_MODALIAS: Record<(typeof MEASURED)[number], string>;
test.before(async () => {
  const read = async (name: string) => {
    const text = await readFile(path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'detection', `${name}.txt`), 'utf8');
    return /^cpu:type:x86.*$/m.exec(text)![0];
  };
  CPU_MODALIAS = { v3: await read('v3'), 'v3-lzcnt': await read('v3-lzcnt'), 'v3-osxsave': await read('v3-osxsave') };
});

test('a target\'s modalias lists its psABI features as the kernel prints them, exactly those a real guest lists', (t) => {
  t.is(cpuModalias(target('v2')), 'cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0008,000F,0017,0018,0019,001A,002B,003D,0080,0089,008D,0093,0094,0097,00C0');
  for (const name of MEASURED) {
    const real = [...parseModalias(CPU_MODALIAS[name])!].filter((n) => PSABI_NUMBERS.has(n));
    t.deepEqual(real, modaliasFeatures(target(name)), name);
  }
  t.false(modaliasFeatures(target('v3-lzcnt')).includes(0xc5));
  t.false(modaliasFeatures(target('v3-osxsave')).includes(0x9b));
  // An OS near miss: the CPU has the feature, the kernel does not list it.
  t.false(modaliasFeatures(target('v3-noxsave')).includes(0x9b));
  t.false(modaliasFeatures(target('v3-noavxstate')).includes(0x9c));
});

test("each level's exact glob: every feature number the levels above v1 add up to it, ascending", (t) => {
  t.is(levelModaliasGlob('v1'), 'cpu:type:x86*:feature:*');
  t.is(levelModaliasGlob('v2'), 'cpu:type:x86*:feature:*0080*0089*008D*0093*0094*0097*00C0*');
  t.is(levelModaliasGlob('v3'), 'cpu:type:x86*:feature:*0080*0089*008C*008D*0093*0094*0096*0097*009B*009C*009D*00C0*00C5*0123*0125*0128*');
  t.is(levelModaliasGlob('v4'), `${levelModaliasGlob('v3')}0130*0131*013C*013E*013F*`);
});

test("openSUSE's v3 supplement is the v3 glob without 00C5 (LZCNT), written as openSUSE writes it", (t) => {
  const openSuseList = levelModaliasGlob('v3').replace('00C5*', '');
  t.is(modaliasCapability(openSuseList, 'glibc'), OPENSUSE_V3_SUPPLEMENTS);
  t.is(OPENSUSE_V3_SUPPLEMENTS, 'modalias(glibc:cpu:type%3Ax86*%3Afeature%3A*0080*0089*008C*008D*0093*0094*0096*0097*009B*009C*009D*00C0*0123*0125*0128*)');
  t.is(HWCAPS_PATTERNS.find((p) => p.level === 'v3')?.supplements, OPENSUSE_V3_SUPPLEMENTS);
  t.deepEqual(HWCAPS_PATTERNS.map((p) => [p.name, p.origin]), [
    ['patterns-glibc-hwcaps-x86_64_v2', 'levelgate'],
    ['patterns-glibc-hwcaps-x86_64_v3', 'openSUSE'],
    ['patterns-glibc-hwcaps-x86_64_v4', 'levelgate'],
  ]);
});

test('a modalias() supplement as libsolv splits it and libzypp decodes and matches it', (t) => {
  t.is(hexdecode('of:NfirmwareT*Craspberrypi%2Cbcm2835-firmwareC*'), 'of:NfirmwareT*Craspberrypi,bcm2835-firmwareC*');
  // Two ':' or more: the first part is a package that must be installed too.
  t.deepEqual(parseModaliasSupplement('modalias(glibc:cpu:type%3Ax86*%3Afeature%3A*0080*)'), { package: 'glibc', glob: 'cpu:type:x86*:feature:*0080*' });
  t.deepEqual(parseModaliasSupplement('modalias(kernel-default:pci:v00008086d*)'), { package: 'kernel-default', glob: 'pci:v00008086d*' });
  // One ':': the whole text is the glob (ucode-intel's "only 1 : might be present").
  t.deepEqual(parseModaliasSupplement('modalias(cpu:type%3Ax86*ven0000*)'), { glob: 'cpu:type:x86*ven0000*' });
  // Every ':' encoded: no split, and the glob carries the package's name, so it never matches.
  t.deepEqual(parseModaliasSupplement('modalias(glibc:cpu%3Atype%3Ax86*)'), { glob: 'glibc:cpu:type:x86*' });
  t.is(parseModaliasSupplement('glibc'), undefined);
  t.is(modaliasCapability('cpu:type:x86*:feature:*0080*', 'glibc'), 'modalias(glibc:cpu:type%3Ax86*%3Afeature%3A*0080*)');
  t.is(modaliasCapability('of:NfirmwareT*Cfoo,bar*'), 'modalias(of:NfirmwareT*Cfoo%2Cbar*)');
  t.throws(() => modaliasCapability('x86*', 'glibc'), { message: "modalias glob 'x86*' has no ':' (a kernel modalias always has one): libsolv could not split off the package 'glibc'" });
  const v3 = [CPU_MODALIAS.v3];
  t.true(modaliasSupplementHolds(OPENSUSE_V3_SUPPLEMENTS, v3, new Set(['glibc'])));
  t.false(modaliasSupplementHolds(OPENSUSE_V3_SUPPLEMENTS, v3, new Set()), 'glibc must be installed');
  t.false(modaliasSupplementHolds(OPENSUSE_V3_SUPPLEMENTS, [CPU_MODALIAS['v3-osxsave']], new Set(['glibc'])));
});

test('fnmatch with flags 0, as libzypp calls it', (t) => {
  t.true(fnmatch('cpu:type:x86*:feature:*0080*00C0*', 'cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0080,0093,00C0,0123'));
  t.false(fnmatch('cpu:type:x86*:feature:*00C0*0080*', 'cpu:type:x86,ven0002:feature:,0080,00C0'), 'the numbers must come in the glob\'s order');
  t.true(fnmatch('a/*', 'a/b/c'), "'*' crosses '/'");
  t.true(fnmatch('?[!x]c[a-c]\\*', 'abcb*'));
  t.false(fnmatch('[!a-c]', 'b'));
  t.true(fnmatch('[]]', ']'));
  t.true(fnmatch('[', '['), "an unclosed '[' is literal");
  t.false(fnmatch('a', 'ab'));
  t.true(fnmatch('a**', 'a'));
});

test('on every CPU target the patterns due are the levels it meets; openSUSE\'s glob selects more only on v3-lzcnt', (t) => {
  for (const cpu of ALL_TARGETS) {
    const meets = HWCAPS_PATTERNS.filter((p) => levelIndex(p.level) <= levelIndex(cpu.level));
    t.deepEqual(levels(patternsDue(cpu)), levels(meets), cpu.name);
    t.true(patternsDue(cpu).every((p) => patternsSelected(cpu).includes(p)), `${cpu.name}: a pattern due is selected`);
  }
  t.deepEqual(ALL_TARGETS.filter((cpu) => patternsSelectedWrongly(cpu).length > 0).map((cpu) => [cpu.name, levels(patternsSelectedWrongly(cpu))]), [['v3-lzcnt', ['v3']]]);
  t.deepEqual(levels(patternsSelected(target('v1'))), []);
  t.deepEqual(levels(patternsSelected(target('v2'))), ['v2']);
  t.deepEqual(levels(patternsSelected(target('v3'))), ['v2', 'v3']);
  t.deepEqual(levels(patternsSelected(target('v4'))), ['v2', 'v3', 'v4']);
  t.deepEqual(levels(patternsSelected(target('v2-lahf-sahf'))), []);
  t.deepEqual(levels(patternsSelected(target('v3-lzcnt'))), ['v2', 'v3']);
  t.deepEqual(levels(patternsDue(target('v3-lzcnt'))), ['v2']);
  // No XSAVE: no 009B (OSXSAVE), so the v3 glob does not match (as glibc, which sees no OSXSAVE).
  t.deepEqual(levels(patternsSelected(target('v3-osxsave'))), ['v2']);
  t.deepEqual(levels(patternsSelected(target('v4-avx512vl'))), ['v2', 'v3']);
});

test("the globs agree with what real guests' kernels print", (t) => {
  const openSuse = parseModaliasSupplement(OPENSUSE_V3_SUPPLEMENTS)!.glob;
  t.true(modaliasMatches(openSuse, CPU_MODALIAS.v3));
  t.true(modaliasMatches(openSuse, CPU_MODALIAS['v3-lzcnt']));
  t.false(modaliasMatches(openSuse, CPU_MODALIAS['v3-osxsave']));
  t.true(modaliasMatches(levelModaliasGlob('v3'), CPU_MODALIAS.v3));
  t.false(modaliasMatches(levelModaliasGlob('v3'), CPU_MODALIAS['v3-lzcnt']));
  t.true(modaliasMatches(levelModaliasGlob('v2'), CPU_MODALIAS['v3-osxsave']));
});

test('the pattern and per-level library packages are built as openSUSE builds them', (t) => {
  const v3 = HWCAPS_PATTERNS.find((p) => p.level === 'v3')!;
  t.deepEqual(hwcapsPatternBuild(v3), {
    name: 'patterns-glibc-hwcaps-x86_64_v3',
    version: '20230201',
    arch: 'x86_64',
    kind: 'none',
    provides: ['pattern() = x86_64_v3', 'pattern-icon() = pattern-generic', 'patterns-glibc-hwcaps-x86_64-v3 = 20230201'],
    requires: ['glibc'],
    supplements: [OPENSUSE_V3_SUPPLEMENTS],
  });
  t.deepEqual(hwcapsOverlayBuild({ name: 'libfoo1', version: '2.1', release: '3', arch: 'x86_64', kind: 'hwcaps' }, 'v3'), {
    name: 'libfoo1-x86-64-v3',
    version: '2.1',
    release: '3',
    arch: 'x86_64',
    kind: 'hwcaps-overlay',
    hwcaps: ['x86-64-v3'],
    library: 'libfoo1',
    requires: ['libfoo1 = 2.1-3'],
    supplements: ['(libfoo1 = 2.1 and patterns-glibc-hwcaps-x86_64_v3)'],
  });
});
