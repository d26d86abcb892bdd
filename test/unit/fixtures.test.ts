import test from 'ava';
import { fixtureSpec } from '../../harness/fixtures/build.js';
import { HWCAPS_PATTERNS, hwcapsOverlayBuild, hwcapsPatternBuild } from '../../harness/repos/hwcaps-patterns.js';

test("the spec carries the dependency tags in rpm's order, '%' doubled as openSUSE's spec writes it", (t) => {
  const pattern = hwcapsPatternBuild(HWCAPS_PATTERNS.find((p) => p.level === 'v3')!);
  t.is(
    fixtureSpec({ ...pattern, recommends: ['lgextra'] }, ['/usr/share/patterns-glibc-hwcaps-x86_64_v3/README']),
    [
      'Name: patterns-glibc-hwcaps-x86_64_v3',
      'Version: 20230201',
      'Release: 1',
      'Summary: levelgate fixture package',
      'License: MIT',
      'AutoReqProv: no',
      'Provides: pattern() = x86_64_v3',
      'Provides: pattern-icon() = pattern-generic',
      'Provides: patterns-glibc-hwcaps-x86_64-v3 = 20230201',
      'Requires: glibc',
      'Recommends: lgextra',
      'Supplements: modalias(glibc:cpu:type%%3Ax86*%%3Afeature%%3A*0080*0089*008C*008D*0093*0094*0096*0097*009B*009C*009D*00C0*0123*0125*0128*)',
      '%description',
      'levelgate fixture patterns-glibc-hwcaps-x86_64_v3-20230201-1.x86_64.',
      '%install',
      'cp -a /build/src/patterns-glibc-hwcaps-x86_64_v3-20230201-1.x86_64/. %{buildroot}/',
      '%files',
      '/usr/share/patterns-glibc-hwcaps-x86_64_v3/README',
      '',
    ].join('\n'),
  );
});

test('a per-level library package with a gzip payload: its rich supplement and the payload macro', (t) => {
  const overlay = { ...hwcapsOverlayBuild({ name: 'lgpat', version: '1.0', arch: 'x86_64', kind: 'hwcaps' }, 'v2'), payload: 'gzip' as const };
  const spec = fixtureSpec(overlay, ['/usr/lib64/glibc-hwcaps/x86-64-v2/liblgpat.so.1']).split('\n');
  t.deepEqual(spec.slice(5, 9), ['%global _binary_payload w9.gzdio', 'AutoReqProv: no', 'Requires: lgpat = 1.0-1', 'Supplements: (lgpat = 1.0 and patterns-glibc-hwcaps-x86_64_v2)']);
});

test('fixture programs exercise every feature of their level (and of the levels below it), so each near miss kills the wrong build', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { fileURLToPath } = await import('node:url');
  const { LEVELS } = await import('../../harness/levels/table.js');
  const header = await readFile(fileURLToPath(new URL('../../../harness/fixtures/sources/variant-level.h', import.meta.url)), 'utf8');
  // The features each `#if LG_LEVEL >= N` block of lg_level_instruction names, in order.
  const body = header.slice(header.indexOf('static inline int lg_level_instruction'));
  const byLevel = new Map<number, string[]>();
  let level = 0;
  for (const line of body.split('\n')) {
    const guard = /^#if LG_LEVEL >= (\d)/.exec(line);
    if (guard) level = Number(guard[1]);
    const feature = /ok &= lg_\w+\(\);\s*\/\* feature (\S+) \*\//.exec(line);
    if (feature) byLevel.set(level, [...(byLevel.get(level) ?? []), feature[1]!]);
  }
  for (const l of LEVELS.slice(1)) t.deepEqual(byLevel.get(Number(l.name.slice(1))), l.adds.map((f) => f.psabi), l.name);
});
