// The CPU modalias the Linux kernel publishes for a CPU target, and the modalias glob
// that selects exactly the CPUs meeting a level: what hardware-selected packages
// (openSUSE's glibc-hwcaps patterns) are matched against. The kernel prints
// "cpu:type:x86,venVVVVfamFFFFmodMMMM:feature:" and then ",%04X" for every feature bit
// it has, in ascending order (arch_print_cpu_modalias, drivers/base/cpu.c); reading one
// back is detectors.ts' parseModalias. Pure.
import { fnmatch } from '../util/fnmatch.js';
import { LEVELS, levelIndex, type LevelName } from './table.js';
import { targetFeatures, type CpuTarget } from './targets.js';

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

/**
 * The kernel's feature numbers of the psABI features it lists on the target, ascending:
 * the CPU's features, less the one an OS near miss leaves off. (The kernel also clears
 * what depends on a missing feature, cpuid_deps: AVX2 and FMA without AVX. No level's
 * glob is decided by those, as it needs the missing feature itself.)
 */
export function modaliasFeatures(target: CpuTarget): number[] {
  const listed = targetFeatures(target).filter((f) => !(target.nearMiss?.by === 'os' && f === target.nearMiss.missing));
  return [...new Set(listed.flatMap((f) => (f.linux === null ? [] : [f.linux])))].sort((a, b) => a - b);
}

/**
 * The CPU modalias of the target as the kernel prints it, with its psABI features only
 * (a real CPU lists more: nx, xsave, xsaveopt...; no level's glob looks at those). The
 * vendor/family/model part is QEMU's qemu64 (AMD, family 15, model 107), which every
 * pinned guest reports.
 */
export function cpuModalias(target: CpuTarget): string {
  return `cpu:type:x86,ven0002fam000Fmod006B:feature:${modaliasFeatures(target).map((n) => `,${hex4(n)}`).join('')}`;
}

/**
 * The glob that matches exactly the CPUs meeting `level`: every feature number the
 * levels above v1 up to it add, in ascending order (every x86-64 CPU has v1's), in the
 * form openSUSE's patterns use ("cpu:type:x86*:feature:*0080*0089*...*"). v1: any x86 CPU.
 */
export function levelModaliasGlob(level: LevelName): string {
  const numbers = LEVELS.slice(1, levelIndex(level) + 1).flatMap((l) => l.adds.flatMap((f) => (f.linux === null ? [] : [f.linux])));
  return `cpu:type:x86*:feature:*${[...new Set(numbers)].sort((a, b) => a - b).map((n) => `${hex4(n)}*`).join('')}`;
}

/** True when the glob matches the modalias: fnmatch(3) with flags 0, as libzypp matches it. */
export const modaliasMatches = (glob: string, modalias: string): boolean => fnmatch(glob, modalias);
