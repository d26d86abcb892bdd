// The four x86-64 psABI levels as data: the features each adds, how /proc/cpuinfo and
// QEMU name them, and the names distributions use for each level.

export const LEVEL_NAMES = ['v1', 'v2', 'v3', 'v4'] as const;
export type LevelName = (typeof LEVEL_NAMES)[number];

export interface Feature {
  /** The psABI's name (low-level-sys-info.tex). */
  readonly psabi: string;
  /** The flag in /proc/cpuinfo, or null where Linux does not list it. */
  readonly cpuinfo: string | null;
  /** The QEMU `-cpu` property, or null where no CPUID bit stands behind it. */
  readonly qemu: string | null;
}

export interface Level {
  readonly name: LevelName;
  /** gcc's -march name. */
  readonly march: string;
  /** The RPM arch of packages built for this level. */
  readonly rpmArch: string;
  /** The glibc-hwcaps subdirectory name, null for the baseline. */
  readonly hwcaps: string | null;
  /** Features this level adds to the one below it. */
  readonly adds: readonly Feature[];
}

const f = (psabi: string, cpuinfo: string | null, qemu: string | null): Feature => ({ psabi, cpuinfo, qemu });

export const LEVELS: readonly Level[] = [
  {
    name: 'v1',
    march: 'x86-64',
    rpmArch: 'x86_64',
    hwcaps: null,
    adds: [
      f('CMOV', 'cmov', 'cmov'),
      f('CX8', 'cx8', 'cx8'),
      f('FPU', 'fpu', 'fpu'),
      f('FXSR', 'fxsr', 'fxsr'),
      f('MMX', 'mmx', 'mmx'),
      // Set by the kernel (CR4.OSFXSR), not a CPUID bit.
      f('OSFXSR', null, null),
      f('SCE', 'syscall', 'syscall'),
      f('SSE', 'sse', 'sse'),
      f('SSE2', 'sse2', 'sse2'),
      f('LM', 'lm', 'lm'),
    ],
  },
  {
    name: 'v2',
    march: 'x86-64-v2',
    rpmArch: 'x86_64_v2',
    hwcaps: 'x86-64-v2',
    adds: [
      f('CMPXCHG16B', 'cx16', 'cx16'),
      f('LAHF-SAHF', 'lahf_lm', 'lahf-lm'),
      f('POPCNT', 'popcnt', 'popcnt'),
      f('SSE3', 'pni', 'pni'),
      f('SSE4_1', 'sse4_1', 'sse4.1'),
      f('SSE4_2', 'sse4_2', 'sse4.2'),
      f('SSSE3', 'ssse3', 'ssse3'),
    ],
  },
  {
    name: 'v3',
    march: 'x86-64-v3',
    rpmArch: 'x86_64_v3',
    hwcaps: 'x86-64-v3',
    adds: [
      f('AVX', 'avx', 'avx'),
      f('AVX2', 'avx2', 'avx2'),
      f('BMI1', 'bmi1', 'bmi1'),
      f('BMI2', 'bmi2', 'bmi2'),
      f('F16C', 'f16c', 'f16c'),
      f('FMA', 'fma', 'fma'),
      // LZCNT is CPUID bit ABM on AMD's leaf; Linux and QEMU both call it abm.
      f('LZCNT', 'abm', 'abm'),
      f('MOVBE', 'movbe', 'movbe'),
      // The guest kernel sets OSXSAVE once the CPU offers XSAVE; Linux does not list
      // osxsave in cpuinfo, so glibc's hwcaps and the AVX canaries are its evidence.
      f('OSXSAVE', 'xsave', 'xsave'),
    ],
  },
  {
    name: 'v4',
    march: 'x86-64-v4',
    rpmArch: 'x86_64_v4',
    hwcaps: 'x86-64-v4',
    adds: [
      f('AVX512F', 'avx512f', 'avx512f'),
      f('AVX512BW', 'avx512bw', 'avx512bw'),
      f('AVX512CD', 'avx512cd', 'avx512cd'),
      f('AVX512DQ', 'avx512dq', 'avx512dq'),
      f('AVX512VL', 'avx512vl', 'avx512vl'),
    ],
  },
];

export function levelIndex(name: LevelName): number {
  return LEVEL_NAMES.indexOf(name);
}

export function getLevel(name: LevelName): Level {
  return LEVELS[levelIndex(name)]!;
}

export function isLevelName(value: string): value is LevelName {
  return (LEVEL_NAMES as readonly string[]).includes(value);
}

/** Parses a user-supplied level, accepting v3, x86-64-v3 and x86_64_v3 spellings. */
export function parseLevelName(value: string): LevelName | undefined {
  const m = /^(?:x86[-_]64[-_])?(v[1-4])$/i.exec(value.trim());
  if (m) return m[1]!.toLowerCase() as LevelName;
  if (/^x86[-_]64$/i.test(value.trim())) return 'v1';
  return undefined;
}

/** Every feature a CPU at this level must have (its own and those below). */
export function featuresUpTo(name: LevelName): Feature[] {
  return LEVELS.slice(0, levelIndex(name) + 1).flatMap((l) => l.adds);
}

/** Every feature a CPU pinned exactly at this level must not have. */
export function featuresAbove(name: LevelName): Feature[] {
  return LEVELS.slice(levelIndex(name) + 1).flatMap((l) => l.adds);
}
