// Helpers for writing scenarios: variant sets, the best variant for a level, and the
// line a fixture program prints.
import { getLevel, levelIndex, type LevelName } from '../harness/levels/table.js';
import { archLevel, type PackageBuild, type RpmArch } from '../harness/scenario/types.js';

export const ALL_ARCHES: readonly RpmArch[] = ['x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4'];

/** One build of `name`-`version` per arch. */
export function variants(name: string, version: string, arches: readonly RpmArch[], extra: Partial<PackageBuild> = {}): PackageBuild[] {
  return arches.map((arch) => ({ name, version, arch, ...extra }));
}

/** The highest of `arches` a CPU at `level` can run: what a level-aware solver should pick. */
export function bestArch(level: LevelName, arches: readonly RpmArch[]): RpmArch {
  const runnable = arches.filter((a) => {
    const needs = archLevel(a);
    return needs === null || levelIndex(needs) <= levelIndex(level);
  });
  const best = runnable.sort((a, b) => levelIndex(archLevel(b) ?? 'v1') - levelIndex(archLevel(a) ?? 'v1'))[0];
  if (!best) throw new Error(`no arch of ${arches.join(', ')} runs at ${level}`);
  return best;
}

/** The level's own RPM arch (rpm's "install arch"). */
export const rpmArchOf = (level: LevelName): RpmArch => getLevel(level).rpmArch as RpmArch;

/** What fixture program NAME prints: "NAME VERSION-RELEASE ARCH". */
export const prints = (name: string, evr: string, arch: RpmArch): string => `${name} ${evr} ${arch}`;

/** The level one below (for a disk moved to an older CPU). */
export function oneBelow(level: LevelName): LevelName {
  const i = levelIndex(level);
  if (i === 0) throw new Error('nothing is below v1');
  return (['v1', 'v2', 'v3', 'v4'] as const)[i - 1]!;
}
