// Fidelity canaries: one instruction per feature above a level, run in the guest by
// levelgate-canary (harness/image/guest/canary.c), and what their outcomes mean.
import { exactTarget, type CpuTarget } from './targets.js';
import { isLevelName, levelIndex, type LevelName } from './table.js';

/** The psABI feature each canary's instruction needs (canary.c's table). */
export const CANARY_FEATURES: Readonly<Record<string, string>> = {
  cmov: 'CMOV',
  'cx8-cmpxchg8b': 'CX8',
  'fpu-fadd': 'FPU',
  'fxsr-fxsave': 'FXSR',
  'mmx-paddb': 'MMX',
  'sce-syscall': 'SCE',
  'sse-addps': 'SSE',
  'sse2-paddq': 'SSE2',
  'cx16-cmpxchg16b': 'CMPXCHG16B',
  'lahf-lm': 'LAHF-SAHF',
  popcnt: 'POPCNT',
  'sse3-haddpd': 'SSE3',
  'sse4.1-pmulld': 'SSE4_1',
  'sse4.2-crc32': 'SSE4_2',
  'ssse3-pshufb': 'SSSE3',
  'avx-vaddps': 'AVX',
  'avx2-vpaddd': 'AVX2',
  'bmi1-andn': 'BMI1',
  'bmi2-pdep': 'BMI2',
  'f16c-vcvtph2ps': 'F16C',
  'fma-vfmadd': 'FMA',
  lzcnt: 'LZCNT',
  movbe: 'MOVBE',
  'osxsave-xgetbv': 'OSXSAVE',
  'avx512f-vpaddd': 'AVX512F',
  'avx512bw-vpaddb': 'AVX512BW',
  'avx512cd-vplzcntd': 'AVX512CD',
  'avx512dq-vpmullq': 'AVX512DQ',
  'avx512vl-vpabsq': 'AVX512VL',
};


export type CanaryOutcome = 'ok' | 'sigill' | 'wrong' | `signal-${number}` | `exit-${number}`;

export interface CanaryResult {
  readonly name: string;
  /** The level the instruction belongs to. */
  readonly level: LevelName;
  readonly outcome: CanaryOutcome;
  /** What the instruction computed, e.g. "lzcnt(1)=0(executed-as-bsr)". */
  readonly detail: string;
}

/**
 * How faithfully the emulator enforces the pinned level:
 * - `traps`: every instruction above the level trapped or computed a wrong value,
 *   as on real hardware of that level (TCG checks every instruction against CPUID);
 * - `masks-only`: CPUID hides the features but some of their instructions still run
 *   (KVM executes POPCNT, BMI, MOVBE on the host CPU whatever CPUID says);
 * - `untested`: no canary exists above the level (v4: nothing above it is checked).
 */
export type Fidelity = 'traps' | 'masks-only' | 'untested';

export interface CanaryVerdict {
  readonly fidelity: Fidelity;
  /** Canaries at or below the level that did not compute the right value: the level is not really there. */
  readonly brokenAtLevel: readonly CanaryResult[];
  /** Canaries above the level that ran correctly anyway. */
  readonly leakedAbove: readonly CanaryResult[];
}

/** Parses levelgate-canary's lines: "canary NAME LEVEL OUTCOME DETAIL". */
export function parseCanaryOutput(stdout: string): CanaryResult[] {
  const results: CanaryResult[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^canary (\S+) (v[1-4]) (ok|sigill|wrong|signal-\d+|exit-\d+) ?(.*)$/.exec(line.trim());
    if (!m || !isLevelName(m[2]!)) continue;
    results.push({ name: m[1]!, level: m[2], outcome: m[3] as CanaryOutcome, detail: m[4] ?? '' });
  }
  return results;
}

/**
 * Judges the canaries against the CPU: at or below the level it meets every one must
 * compute the right value; above it (and, on a near miss, for the one feature it
 * lacks) a faithful emulator traps. A near miss's other features of the level it
 * nearly is do not count for fidelity: the proof requires those to run (proof.ts,
 * targetRunsFeatures: but what needs the AVX state where the OS has none).
 */
export function judgeCanaries(level: LevelName | CpuTarget, results: readonly CanaryResult[]): CanaryVerdict {
  const target = typeof level === 'string' ? exactTarget(level) : level;
  const pinned = levelIndex(target.level);
  const partial = target.nearMiss ? levelIndex(target.nearMiss.of) : pinned;
  const missing = target.nearMiss?.missing.psabi;
  const brokenAtLevel = results.filter((r) => levelIndex(r.level) <= pinned && r.outcome !== 'ok');
  const above = results.filter((r) => levelIndex(r.level) > partial || (missing !== undefined && CANARY_FEATURES[r.name] === missing));
  const leakedAbove = above.filter((r) => r.outcome === 'ok');
  const fidelity: Fidelity = above.length === 0 ? 'untested' : leakedAbove.length > 0 ? 'masks-only' : 'traps';
  return { fidelity, brokenAtLevel, leakedAbove };
}
