// The CPUs of the matrix: each exact level, and each near miss — a level with one of
// its features taken away ("v3-fma": every v3 feature but FMA), the CPUs where the
// detectors of a machine's level disagree (rpm#2412 was a wrong LZCNT bit). A near miss
// meets the level below; the feature it lacks and the level it nearly is are data.
import { featuresUpTo, getLevel, isLevelName, LEVEL_NAMES, LEVELS, levelIndex, type Feature, type LevelName } from './table.js';

export interface CpuTarget {
  /** "v3", or a near miss such as "v3-fma". */
  readonly name: string;
  /** The level the CPU really meets. */
  readonly level: LevelName;
  /**
   * A near miss: the level it is one feature short of, and that feature. `by`: 'cpu'
   * (default) the CPU model lacks it; 'os' the CPU has it but the guest's kernel does
   * not enable it (`kernelArgs`), as psABI levels count OS support (XSAVE state for AVX).
   */
  readonly nearMiss?: { readonly of: LevelName; readonly missing: Feature; readonly by?: 'cpu' | 'os' };
  /** Kernel arguments the CPU's guests boot with (an OS that leaves a feature off). */
  readonly kernelArgs?: readonly string[];
}

export const EXACT_TARGETS: readonly CpuTarget[] = LEVEL_NAMES.map((level) => ({ name: level, level }));

const slug = (f: Feature) => f.psabi.toLowerCase();

/** For each level v2-v4 and each feature it adds, the CPU of that level without it. */
export const NEAR_MISS_TARGETS: readonly CpuTarget[] = LEVELS.slice(1).flatMap((l) =>
  l.adds.map((missing) => ({ name: `${l.name}-${slug(missing)}`, level: LEVEL_NAMES[levelIndex(l.name) - 1]!, nearMiss: { of: l.name, missing } })),
);

const v3Feature = (psabi: string): Feature => getLevel('v3').adds.find((f) => f.psabi === psabi)!;

/**
 * Near misses made by the OS, on a CPU whose CPUID has every v3 feature:
 * - v3-noxsave: the kernel leaves XSAVE off (`noxsave`): OSXSAVE is clear, so no AVX state;
 * - v3-noavxstate: the kernel enables XSAVE but not the AVX state (`clearcpuid=avx`:
 *   XCR0 lacks YMM) while CPUID still shows AVX, AVX2, FMA and OSXSAVE — the case a
 *   detector that reads CPUID without XCR0 takes for v3 (rpm#2463 was that bug in rpm).
 */
export const OS_NEAR_MISS_TARGETS: readonly CpuTarget[] = [
  { name: 'v3-noxsave', level: 'v2', nearMiss: { of: 'v3', missing: v3Feature('OSXSAVE'), by: 'os' }, kernelArgs: ['noxsave'] },
  { name: 'v3-noavxstate', level: 'v2', nearMiss: { of: 'v3', missing: v3Feature('AVX'), by: 'os' }, kernelArgs: ['clearcpuid=avx'] },
];

export const ALL_TARGETS: readonly CpuTarget[] = [...EXACT_TARGETS, ...NEAR_MISS_TARGETS, ...OS_NEAR_MISS_TARGETS];

/** Every near miss: those of the CPU model and those of the OS. */
export const ALL_NEAR_MISSES: readonly CpuTarget[] = [...NEAR_MISS_TARGETS, ...OS_NEAR_MISS_TARGETS];

export const exactTarget = (level: LevelName): CpuTarget => EXACT_TARGETS[levelIndex(level)]!;

/** Parses a target: a level in any spelling (v3, x86-64-v3, x86_64_v3) or a near miss name (v3-fma). */
export function parseTargetName(value: string): CpuTarget | undefined {
  const v = value.trim().toLowerCase();
  const exact = /^(?:x86[-_]64[-_])?(v[1-4])$/.exec(v)?.[1];
  if (exact && isLevelName(exact)) return exactTarget(exact);
  if (/^x86[-_]64$/.test(v)) return exactTarget('v1');
  return ALL_NEAR_MISSES.find((t) => t.name === v);
}

/** The features the target's CPU has (CPUID), in table order: an OS near miss's CPU has them all. */
export function targetFeatures(target: CpuTarget): Feature[] {
  const top = target.nearMiss?.of ?? target.level;
  return LEVELS.slice(0, levelIndex(top) + 1)
    .flatMap((l) => l.adds)
    .filter((f) => target.nearMiss?.by === 'os' || f !== target.nearMiss?.missing);
}

/**
 * Features whose instructions need the AVX (YMM) register state, and XGETBV's report of
 * it: the OS enables that state only on a CPU with both AVX and XSAVE, so a CPU (or OS)
 * without either runs none of them (measured under QEMU TCG: v3-avx and v3-osxsave trap
 * AVX2, FMA and F16C too; BMI1, BMI2, LZCNT and MOVBE need no such state and run).
 */
const NEEDS_AVX_STATE: ReadonlySet<string> = new Set(['AVX', 'AVX2', 'FMA', 'F16C', 'OSXSAVE']);

/**
 * The features whose instructions must run on the target (its canaries must compute the
 * right value): every one of its level, and of a near miss every feature of the level it
 * nearly is but the missing one and those that need what it takes away.
 */
export function targetRunsFeatures(target: CpuTarget): Feature[] {
  const missing = target.nearMiss?.missing;
  if (!missing) return featuresUpTo(target.level);
  const noAvxState = missing.psabi === 'AVX' || missing.psabi === 'OSXSAVE';
  return featuresUpTo(target.nearMiss!.of).filter((f) => f !== missing && !(noAvxState && NEEDS_AVX_STATE.has(f.psabi)));
}

/**
 * What CPUID must and must not show on the target, live: the CPU model's features. An OS
 * near miss keeps every bit but OSXSAVE, CPUID's echo of the kernel's CR4.OSXSAVE, when
 * the kernel leaves XSAVE off. Features without a CPUID bit (OSFXSR) are in neither list.
 */
export function targetCpuid(target: CpuTarget): { present: Feature[]; absent: Feature[] } {
  const missing = target.nearMiss?.missing;
  const osClears = target.nearMiss?.by === 'os' && missing?.psabi === 'OSXSAVE' ? missing : undefined;
  const present = targetFeatures(target).filter((f) => f.cpuid && f !== osClears);
  const absent = LEVELS.flatMap((l) => l.adds).filter((f) => f.cpuid && !present.includes(f));
  return { present, absent };
}

/** The features the target's CPU must not have. */
export function targetAbsentFeatures(target: CpuTarget): Feature[] {
  const present = new Set(targetFeatures(target));
  return LEVELS.flatMap((l) => l.adds).filter((f) => !present.has(f));
}

/** One line for messages: "v3-fma (a v3 CPU without FMA: meets v2)". */
export function describeTarget(target: CpuTarget): string {
  if (!target.nearMiss) return target.name;
  const { of, missing, by } = target.nearMiss;
  return by === 'os'
    ? `${target.name} (a ${of} CPU whose kernel leaves ${missing.psabi} off (${target.kernelArgs?.join(' ') ?? ''}): meets ${target.level})`
    : `${target.name} (a ${of} CPU without ${missing.psabi}: meets ${target.level})`;
}
