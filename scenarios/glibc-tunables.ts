import { defineScenario, detect, installFile, setEnv, type HwcapsDir, type LevelName } from '../harness/index.js';

const COPIES: readonly HwcapsDir[] = ['x86-64-v2', 'x86-64-v3', 'x86-64-v4'];
const copyFor = (level: LevelName): HwcapsDir => COPIES.filter((d) => Number(d.slice(-1)) <= Number(level.slice(1))).at(-1)!;

/**
 * GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2 masks AVX2 for glibc alone: the loader falls
 * back to the x86-64-v2 copy and reports v2, while rpm, libzypp and the kernel still
 * see the CPU's level. The pre-2.37 name (-AVX2_Usable) is ignored without a word.
 */
export default defineScenario({
  id: 'glibc-tunables-mask',
  title: 'GLIBC_TUNABLES masks a level for the loader only; the old tunable name is ignored',
  tags: ['hwcaps', 'loader', 'detection'],
  drivers: ['rpm'],
  levels: ['v3', 'v4'],
  repos: { files: [{ name: 'lghwtun', version: '1.0', arch: 'x86_64', kind: 'hwcaps', hwcaps: COPIES }] },
  steps: [
    installFile('files', 'lghwtun-1.0-1.x86_64').expect(({ level }) => ({ loads: { lghwtun: copyFor(level) } })),
    setEnv({ GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX2_Usable' }).expect(({ level }) => ({ loads: { lghwtun: copyFor(level) } })),
    setEnv({ GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX2' }).expect({ loads: { lghwtun: 'x86-64-v2' } }),
    detect().expect({ detectors: { glibc: 'x86_64_v2', cpuid: 'level', cpuinfo: 'level', modalias: 'level', rpm: 'level', libzypp: 'level' } }),
  ],
});
