// openSUSE's glibc-hwcaps packaging as data: the patterns that select a level by the
// CPU's modalias, the per-level library packages they pull in, and which patterns a
// CPU target gets — from the patterns' own globs (what zypper does) and from each
// level's exact glob (what the CPU can use). Pure.
//
// Sources, as read:
// - patterns-glibc-hwcaps.spec (openSUSE:Factory; rev. 1 in the GitHub mirror
//   bmwiedemann/openSUSE at 0d88f799, packages/p/patterns-glibc-hwcaps/): one pattern,
//   x86_64_v3, `Supplements: modalias(cpu:type%%3Ax86*%%3Afeature%%3A*0080*...*0128*)`;
//   its changelog's next entry (2023-02-17, "limit supplements to glibc usecase") makes
//   it modalias(glibc:...), "glibc installed and this CPU". Only the v3 pattern exists.
// - obs-build baselibs_configs/baselibs_global.conf (99e6f465): mkbaselibs turns a
//   library built for x86_64_vN into NAME-x86-64-vN.x86_64 with the library moved to
//   /usr/lib64/glibc-hwcaps/x86-64-vN/, `Requires: NAME = VERSION-RELEASE`,
//   `Supplements: (NAME = VERSION and patterns-glibc-hwcaps-x86_64_vN)`, autoreqprov off —
//   for v2, v3 and v4, although openSUSE ships no v2 or v4 pattern to satisfy it.
import { cpuModalias, levelModaliasGlob, modaliasMatches } from '../levels/modalias.js';
import { getLevel, type LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import { evrOf, type HwcapsDir, type PackageBuild } from '../scenario/types.js';
import { modaliasCapability, modaliasSupplementHolds } from './modalias-supplement.js';

/** A level a glibc-hwcaps pattern exists for. */
export type HwcapsLevel = Exclude<LevelName, 'v1'>;

export interface HwcapsPattern {
  readonly level: HwcapsLevel;
  /** patterns-glibc-hwcaps-x86_64_v3 */
  readonly name: string;
  /** Its `Supplements:` as rpm stores it (a spec writes each '%' twice). */
  readonly supplements: string;
  /** openSUSE's own pattern, or one levelgate writes the same way for a level openSUSE has none for. */
  readonly origin: 'openSUSE' | 'levelgate';
}

/** openSUSE's pattern version. */
export const HWCAPS_PATTERN_VERSION = '20230201';

/** The v3 list exactly as openSUSE's spec has it: no 00C5 (LZCNT), which glibc's x86-64-v3 requires. */
export const OPENSUSE_V3_SUPPLEMENTS = 'modalias(glibc:cpu:type%3Ax86*%3Afeature%3A*0080*0089*008C*008D*0093*0094*0096*0097*009B*009C*009D*00C0*0123*0125*0128*)';

export const hwcapsPatternName = (level: HwcapsLevel): string => `patterns-glibc-hwcaps-x86_64_${level}`;

/** A pattern for `level` written the way openSUSE writes its v3 one, with the level's exact glob. */
const levelgatePattern = (level: HwcapsLevel): HwcapsPattern => ({
  level,
  name: hwcapsPatternName(level),
  supplements: modaliasCapability(levelModaliasGlob(level), 'glibc'),
  origin: 'levelgate',
});

export const HWCAPS_PATTERNS: readonly HwcapsPattern[] = [
  levelgatePattern('v2'),
  { level: 'v3', name: hwcapsPatternName('v3'), supplements: OPENSUSE_V3_SUPPLEMENTS, origin: 'openSUSE' },
  levelgatePattern('v4'),
];

/** Every openSUSE system has glibc installed: the package half of the patterns' supplements. */
const OPENSUSE_BASE: ReadonlySet<string> = new Set(['glibc']);

/** The patterns zypper selects on the target's CPU: those whose own supplements hold for its modalias. */
export function patternsSelected(target: CpuTarget, patterns: readonly HwcapsPattern[] = HWCAPS_PATTERNS): HwcapsPattern[] {
  const modalias = cpuModalias(target);
  return patterns.filter((p) => modaliasSupplementHolds(p.supplements, [modalias], OPENSUSE_BASE));
}

/** The patterns the target's CPU can use: those whose level's exact glob matches its modalias (the levels it meets). */
export function patternsDue(target: CpuTarget, patterns: readonly HwcapsPattern[] = HWCAPS_PATTERNS): HwcapsPattern[] {
  const modalias = cpuModalias(target);
  return patterns.filter((p) => modaliasMatches(levelModaliasGlob(p.level), modalias));
}

/** The patterns zypper selects for the target although its CPU cannot use them. */
export const patternsSelectedWrongly = (target: CpuTarget, patterns: readonly HwcapsPattern[] = HWCAPS_PATTERNS): HwcapsPattern[] =>
  patternsSelected(target, patterns).filter((p) => !patternsDue(target, patterns).includes(p));

/** The pattern package as openSUSE's spec builds it: a marker file, pattern() provides, glibc required, the modalias supplement. */
export function hwcapsPatternBuild(pattern: HwcapsPattern): PackageBuild {
  return {
    name: pattern.name,
    version: HWCAPS_PATTERN_VERSION,
    arch: 'x86_64',
    kind: 'none',
    provides: [`pattern() = x86_64_${pattern.level}`, 'pattern-icon() = pattern-generic', `patterns-glibc-hwcaps-x86_64-${pattern.level} = ${HWCAPS_PATTERN_VERSION}`],
    requires: ['glibc'],
    supplements: [pattern.supplements],
  };
}

/** The glibc-hwcaps directory of a level. */
export const hwcapsDirOf = (level: HwcapsLevel): HwcapsDir => getLevel(level).hwcaps as HwcapsDir;

/** The per-level library package mkbaselibs makes of `library` (an x86_64 hwcaps package): NAME-x86-64-vN, only the level's copy. */
export function hwcapsOverlayBuild(library: PackageBuild, level: HwcapsLevel): PackageBuild {
  const dir = hwcapsDirOf(level);
  return {
    name: `${library.name}-${dir}`,
    version: library.version,
    ...(library.release !== undefined ? { release: library.release } : {}),
    arch: 'x86_64',
    kind: 'hwcaps-overlay',
    hwcaps: [dir],
    library: library.name,
    requires: [`${library.name} = ${evrOf(library)}`],
    supplements: [`(${library.name} = ${library.version} and ${hwcapsPatternName(level)})`],
  };
}
