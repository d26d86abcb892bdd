import { defineScenario, installFile, type HwcapsDir, type LevelName } from '../harness/index.js';

/** The copy the loader should pick from a package carrying `dirs`: the highest the CPU supports, else the baseline. */
export function picks(level: LevelName, dirs: readonly HwcapsDir[]): 'baseline' | HwcapsDir {
  const usable = dirs.filter((d) => Number(d.slice(-1)) <= Number(level.slice(1)));
  return usable.sort().at(-1) ?? 'baseline';
}

const FULL: readonly HwcapsDir[] = ['x86-64-v2', 'x86-64-v3', 'x86-64-v4'];
const PARTIAL: readonly HwcapsDir[] = ['x86-64-v2'];

/** openSUSE's way: one x86_64 package, libraries in glibc-hwcaps/x86-64-vN; the loader selects and falls back. */
export default defineScenario({
  id: 'glibc-hwcaps',
  title: 'glibc-hwcaps selection and fallback per level',
  tags: ['hwcaps', 'loader', 'opensuse'],
  drivers: ['rpm', 'dnf5', 'zypper'],
  repos: {
    files: [
      { name: 'lghwcaps', version: '1.0', arch: 'x86_64', kind: 'hwcaps', hwcaps: FULL },
      { name: 'lghwfallback', version: '1.0', arch: 'x86_64', kind: 'hwcaps', hwcaps: PARTIAL },
    ],
  },
  steps: [
    installFile('files', 'lghwcaps-1.0-1.x86_64').expect(({ level }) => ({ loads: { lghwcaps: picks(level, FULL) } })),
    installFile('files', 'lghwfallback-1.0-1.x86_64').expect(({ level }) => ({ loads: { lghwfallback: picks(level, PARTIAL) } })),
  ],
});
