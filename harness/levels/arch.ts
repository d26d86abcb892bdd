// RPM arches and the levels they need: the one place that says whether a build runs on
// a CPU, which build is the best one for it, and which level lies below another.
import { getLevel, LEVEL_NAMES, levelIndex, type LevelName } from './table.js';

export const RPM_ARCHES = ['noarch', 'x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4'] as const;
export type RpmArch = (typeof RPM_ARCHES)[number];
/** Every x86-64 arch, baseline first. */
export const VARIANT_ARCHES: readonly RpmArch[] = ['x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4'];

export function isRpmArch(value: string): value is RpmArch {
  return (RPM_ARCHES as readonly string[]).includes(value);
}

/** The level an RPM arch needs; null for noarch (runs anywhere), undefined for an arch of another family. */
export function archLevel(arch: string): LevelName | null | undefined {
  if (arch === 'noarch') return null;
  if (arch === 'x86_64') return 'v1';
  const m = /^x86_64_(v[2-4])$/.exec(arch);
  return m ? (m[1] as LevelName) : undefined;
}

/** True when a CPU at `level` runs builds of `arch` (noarch runs everywhere; other families never). */
export function runsAt(arch: string, level: LevelName): boolean {
  const needs = archLevel(arch);
  return needs === null || (needs !== undefined && levelIndex(needs) <= levelIndex(level));
}

/** Orders arches by the level they need: noarch lowest, then x86_64 .. x86_64_v4. */
export function archRank(arch: string): number {
  const needs = archLevel(arch);
  return needs === null ? -1 : needs === undefined ? -2 : levelIndex(needs);
}

/** The highest of `arches` a CPU at `level` can run, or undefined when it runs none. */
export function bestArch<A extends string>(level: LevelName, arches: readonly A[]): A | undefined {
  return arches.filter((a) => runsAt(a, level)).sort((a, b) => archRank(b) - archRank(a))[0];
}

/** The level's own RPM arch (rpm's "install arch" on a CPU of exactly that level). */
export const rpmArchOf = (level: LevelName): RpmArch => getLevel(level).rpmArch as RpmArch;

/** The level one below `level` (a disk moved to an older CPU); undefined below v1. */
export function levelBelow(level: LevelName): LevelName | undefined {
  return LEVEL_NAMES[levelIndex(level) - 1];
}

/** The levels from `level` up: `levels: atLeast('v3')` reads as "v3 and v4". */
export function atLeast(level: LevelName): LevelName[] {
  return LEVEL_NAMES.slice(levelIndex(level));
}

/** The levels below `level`. */
export function below(level: LevelName): LevelName[] {
  return LEVEL_NAMES.slice(0, levelIndex(level));
}

/**
 * Debian's words for an arch: `Architecture:` (amd64, or all for noarch) and, for a
 * level variant, `Architecture-Variant:` (amd64v2..amd64v4), as Ubuntu's apt and dpkg
 * write them.
 */
export function debianArchOf(arch: RpmArch): { readonly architecture: 'amd64' | 'all'; readonly variant?: string } {
  if (arch === 'noarch') return { architecture: 'all' };
  const level = archLevel(arch);
  return level && level !== 'v1' ? { architecture: 'amd64', variant: `amd64${level}` } : { architecture: 'amd64' };
}

/** levelgate's arch word for a Debian package: all → noarch, amd64 → x86_64, variant amd64v3 → x86_64_v3 (amd64v1 is amd64); other arches as Debian names them. */
export function archOfDebian(architecture: string, variant = ''): string {
  if (architecture === 'all') return 'noarch';
  if (architecture !== 'amd64') return architecture;
  const m = /^amd64(v[2-4])$/.exec(variant.trim());
  return m ? `x86_64_${m[1]}` : 'x86_64';
}

/** pacman's arch word for a build: `any` for noarch, the rpm word otherwise (CachyOS labels x86_64_v3, as rpm does). */
export const pacmanArchOf = (arch: RpmArch): string => (arch === 'noarch' ? 'any' : arch);

/** levelgate's arch word for a pacman package (`any` → noarch). */
export const archOfPacman = (arch: string): string => (arch === 'any' ? 'noarch' : arch);
