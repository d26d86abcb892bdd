import { levelIndex, type LevelName } from '../harness/levels/table.js';
import type { HwcapsDir, Scenario } from '../harness/scenario/types.js';

/** The copy the loader should pick from a package carrying `dirs`: the highest the CPU supports. */
function picks(level: LevelName, dirs: readonly HwcapsDir[]): 'baseline' | HwcapsDir {
  const usable = dirs.filter((d) => levelIndex(`v${d.slice(-1)}` as LevelName) <= levelIndex(level));
  return usable.sort().at(-1) ?? 'baseline';
}

const FULL: readonly HwcapsDir[] = ['x86-64-v2', 'x86-64-v3', 'x86-64-v4'];
const PARTIAL: readonly HwcapsDir[] = ['x86-64-v2'];

/** openSUSE's way: one x86_64 package, libraries in glibc-hwcaps/x86-64-vN; the loader selects and falls back. */
const scenario: Scenario = {
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
    { kind: 'install-file', repo: 'files', nevra: 'lghwcaps-1.0-1.x86_64', expect: (level) => ({ succeeds: true, loads: { lghwcaps: picks(level, FULL) } }) },
    { kind: 'install-file', repo: 'files', nevra: 'lghwfallback-1.0-1.x86_64', expect: (level) => ({ succeeds: true, loads: { lghwfallback: picks(level, PARTIAL) } }) },
  ],
};
export default scenario;
