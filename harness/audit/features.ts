// The one table from iced-x86's CPUID feature names to the psABI feature names of
// harness/levels/table.ts, and what a set of them needs: the lowest level, or none.
import { LEVELS, LEVEL_NAMES, type LevelName } from '../levels/table.js';

/**
 * 'base': every x86-64 CPU runs it, though the psABI names no feature for it (the
 * general-purpose instructions, cpuid, rdtsc, long NOPs, pause, clflush).
 * 'hint': encoded in the hint-NOP space, so CPUs without the feature run it as a NOP
 * (endbr64, rdssp): reported, never a requirement.
 * Any iced feature missing here is outside every psABI level (AES, SHA, RDRAND, …)
 * and is reported under iced's own name.
 */
export const ICED_TO_PSABI: Readonly<Record<string, string>> = {
  INTEL8086: 'base',
  INTEL186: 'base',
  INTEL286: 'base',
  INTEL386: 'base',
  INTEL486: 'base',
  CPUID: 'base',
  TSC: 'base',
  MULTIBYTENOP: 'base',
  PAUSE: 'base',
  CLFSH: 'base',
  CET_IBT: 'hint',
  // 64-bit-only encodings: long mode itself, which every x86-64 CPU has (the psABI's LM).
  X64: 'base',
  // v1
  CMOV: 'CMOV',
  CX8: 'CX8',
  FPU: 'FPU',
  FPU287: 'FPU',
  FPU387: 'FPU',
  FXSR: 'FXSR',
  MMX: 'MMX',
  SYSCALL: 'SCE',
  SSE: 'SSE',
  SSE2: 'SSE2',
  // v2. iced reports LAHF/SAHF as INTEL8086; the scanner renames them LAHF_SAHF in 64-bit code.
  CMPXCHG16B: 'CMPXCHG16B',
  LAHF_SAHF: 'LAHF-SAHF',
  POPCNT: 'POPCNT',
  SSE3: 'SSE3',
  SSE4_1: 'SSE4_1',
  SSE4_2: 'SSE4_2',
  SSSE3: 'SSSE3',
  // v3. The psABI's OSXSAVE is the OS's consent to AVX state; xsave/xrstor need it.
  AVX: 'AVX',
  AVX2: 'AVX2',
  BMI1: 'BMI1',
  BMI2: 'BMI2',
  F16C: 'F16C',
  FMA: 'FMA',
  LZCNT: 'LZCNT',
  MOVBE: 'MOVBE',
  XSAVE: 'OSXSAVE',
  // v4
  AVX512F: 'AVX512F',
  AVX512BW: 'AVX512BW',
  AVX512CD: 'AVX512CD',
  AVX512DQ: 'AVX512DQ',
  AVX512VL: 'AVX512VL',
};

/**
 * psABI features no instruction stands for: set by the kernel (OSFXSR), or long mode
 * itself (LM: every 64-bit instruction, which iced files under X64, 'base' above).
 */
export const NOT_INSTRUCTIONS: readonly string[] = ['OSFXSR', 'LM'];

const LEVEL_OF_PSABI = new Map<string, number>(LEVELS.flatMap((level, index) => level.adds.map((f) => [f.psabi, index] as const)));

/** What one iced feature means for the audit. */
export type FeatureClass =
  | { readonly kind: 'base' }
  | { readonly kind: 'hint' }
  | { readonly kind: 'level'; readonly psabi: string; readonly level: number }
  | { readonly kind: 'beyond'; readonly name: string };

export function classifyFeature(iced: string): FeatureClass {
  const mapped = ICED_TO_PSABI[iced];
  if (mapped === 'base' || mapped === 'hint') return { kind: mapped };
  if (mapped !== undefined) {
    const level = LEVEL_OF_PSABI.get(mapped);
    if (level === undefined) throw new Error(`features.ts maps ${iced} to ${mapped}, which harness/levels/table.ts does not list`);
    return { kind: 'level', psabi: mapped, level };
  }
  return { kind: 'beyond', name: iced };
}

/** The level index (0 = v1) of a psABI feature name; undefined for a name outside the table. */
export const psabiLevel = (psabi: string): number | undefined => LEVEL_OF_PSABI.get(psabi);

export const levelNameAt = (index: number): LevelName => LEVEL_NAMES[Math.max(0, Math.min(index, LEVEL_NAMES.length - 1))]!;

/** "x86-64-v3" for 'v3': the name the loader, gcc and the psABI use. */
export const levelLabel = (level: LevelName): string => `x86-64-${level}`;

/**
 * Instructions whose CPUID feature they do not really need (by iced Code name), with
 * the reason a report gives. They are listed, never counted towards a level.
 */
export const DISCOUNTED_CODES: Readonly<Record<string, string>> = {
  // F3 0F BC is also what gcc emits for `rep bsf`: a CPU without BMI1 runs it as bsf.
  Tzcnt_r16_rm16: 'tzcnt (runs as bsf without BMI1)',
  Tzcnt_r32_rm32: 'tzcnt (runs as bsf without BMI1)',
  Tzcnt_r64_rm64: 'tzcnt (runs as bsf without BMI1)',
  // CPU detection runs it once cpuid has said OSXSAVE.
  Xgetbv: 'xgetbv (CPU detection, after cpuid)',
};

/** Instructions iced files under a feature (CET_SS) that are encoded as hint NOPs: like endbr64, never a requirement. */
export const HINT_CODES: readonly string[] = ['Rdsspd_r32', 'Rdsspq_r64'];
