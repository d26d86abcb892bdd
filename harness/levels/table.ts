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
  /**
   * Linux's X86_FEATURE number (word * 32 + bit), as the CPU modalias lists it in hex
   * (/sys/devices/system/cpu/modalias: "feature:,0000,...,0125,..."); null where Linux has none.
   */
  readonly linux: number | null;
  /** Where CPUID reports it: leaf, register and bit; null for what the OS sets (OSFXSR). */
  readonly cpuid: CpuidBit | null;
}

/** A CPUID bit: leaf 1, 7 (subleaf 0) or 0x80000001, and the register holding it. */
export interface CpuidBit {
  readonly leaf: 1 | 7 | 0x80000001;
  readonly reg: 'ebx' | 'ecx' | 'edx';
  readonly bit: number;
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

const f = (psabi: string, cpuinfo: string | null, qemu: string | null, linux: number | null, cpuid: CpuidBit | null): Feature => ({ psabi, cpuinfo, qemu, linux, cpuid });
const l1c = (bit: number): CpuidBit => ({ leaf: 1, reg: 'ecx', bit });
const l1d = (bit: number): CpuidBit => ({ leaf: 1, reg: 'edx', bit });
const l7b = (bit: number): CpuidBit => ({ leaf: 7, reg: 'ebx', bit });
const x1c = (bit: number): CpuidBit => ({ leaf: 0x80000001, reg: 'ecx', bit });
const x1d = (bit: number): CpuidBit => ({ leaf: 0x80000001, reg: 'edx', bit });

export const LEVELS: readonly Level[] = [
  {
    name: 'v1',
    march: 'x86-64',
    rpmArch: 'x86_64',
    hwcaps: null,
    adds: [
      f('CMOV', 'cmov', 'cmov', 15, l1d(15)),
      f('CX8', 'cx8', 'cx8', 8, l1d(8)),
      f('FPU', 'fpu', 'fpu', 0, l1d(0)),
      f('FXSR', 'fxsr', 'fxsr', 24, l1d(24)),
      f('MMX', 'mmx', 'mmx', 23, l1d(23)),
      // Set by the kernel (CR4.OSFXSR), not a CPUID bit.
      f('OSFXSR', null, null, null, null),
      f('SCE', 'syscall', 'syscall', 32 + 11, x1d(11)),
      f('SSE', 'sse', 'sse', 25, l1d(25)),
      f('SSE2', 'sse2', 'sse2', 26, l1d(26)),
      f('LM', 'lm', 'lm', 32 + 29, x1d(29)),
    ],
  },
  {
    name: 'v2',
    march: 'x86-64-v2',
    rpmArch: 'x86_64_v2',
    hwcaps: 'x86-64-v2',
    adds: [
      f('CMPXCHG16B', 'cx16', 'cx16', 4 * 32 + 13, l1c(13)),
      f('LAHF-SAHF', 'lahf_lm', 'lahf-lm', 6 * 32 + 0, x1c(0)),
      f('POPCNT', 'popcnt', 'popcnt', 4 * 32 + 23, l1c(23)),
      f('SSE3', 'pni', 'pni', 4 * 32 + 0, l1c(0)),
      f('SSE4_1', 'sse4_1', 'sse4.1', 4 * 32 + 19, l1c(19)),
      f('SSE4_2', 'sse4_2', 'sse4.2', 4 * 32 + 20, l1c(20)),
      f('SSSE3', 'ssse3', 'ssse3', 4 * 32 + 9, l1c(9)),
    ],
  },
  {
    name: 'v3',
    march: 'x86-64-v3',
    rpmArch: 'x86_64_v3',
    hwcaps: 'x86-64-v3',
    adds: [
      f('AVX', 'avx', 'avx', 4 * 32 + 28, l1c(28)),
      f('AVX2', 'avx2', 'avx2', 9 * 32 + 5, l7b(5)),
      f('BMI1', 'bmi1', 'bmi1', 9 * 32 + 3, l7b(3)),
      f('BMI2', 'bmi2', 'bmi2', 9 * 32 + 8, l7b(8)),
      f('F16C', 'f16c', 'f16c', 4 * 32 + 29, l1c(29)),
      f('FMA', 'fma', 'fma', 4 * 32 + 12, l1c(12)),
      // LZCNT is CPUID bit ABM on AMD's leaf; Linux and QEMU both call it abm.
      f('LZCNT', 'abm', 'abm', 6 * 32 + 5, x1c(5)),
      f('MOVBE', 'movbe', 'movbe', 4 * 32 + 22, l1c(22)),
      // The guest kernel sets OSXSAVE once the CPU offers XSAVE; Linux does not list
      // osxsave in cpuinfo, so glibc's hwcaps and the AVX canaries are its evidence.
      f('OSXSAVE', 'xsave', 'xsave', 4 * 32 + 27, l1c(27)),
    ],
  },
  {
    name: 'v4',
    march: 'x86-64-v4',
    rpmArch: 'x86_64_v4',
    hwcaps: 'x86-64-v4',
    adds: [
      f('AVX512F', 'avx512f', 'avx512f', 9 * 32 + 16, l7b(16)),
      f('AVX512BW', 'avx512bw', 'avx512bw', 9 * 32 + 30, l7b(30)),
      f('AVX512CD', 'avx512cd', 'avx512cd', 9 * 32 + 28, l7b(28)),
      f('AVX512DQ', 'avx512dq', 'avx512dq', 9 * 32 + 17, l7b(17)),
      f('AVX512VL', 'avx512vl', 'avx512vl', 9 * 32 + 31, l7b(31)),
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
