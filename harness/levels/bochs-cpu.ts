// The Bochs CPU model for each level, and what the guest kernel must be told on Bochs.
// Bochs has no per-feature switches worth trusting: a level is a model whose CPUID set
// is exactly the level's (measured, domain.md §2b). The guest's level proof checks
// every boot, so a model that drifts is caught, not trusted.
import type { LevelName } from './table.js';

export const BOCHS_CPU_MODELS: Readonly<Record<LevelName, string>> = {
  v1: 'athlon64_clawhammer',
  v2: 'corei5_lynnfield_750',
  v3: 'corei7_haswell_4770',
  // Exactly F, CD, BW, DQ, VL of AVX-512 (icelake and later add VBMI, VNNI...: above v4).
  v4: 'corei7_skylake_x',
};

/**
 * Kernel parameters Bochs 2.7 needs: it reports wrong XSAVE area sizes for the compacted
 * formats (the kernel then disables XSAVE and every AVX instruction traps), and FSRM
 * hangs some models at boot; PKU is reported but not usable.
 */
export const BOCHS_KERNEL_ARGS: readonly string[] = ['clearcpuid=pku,xsaves,xsavec,fsrm'];

export function bochsCpuModel(level: LevelName): string {
  return BOCHS_CPU_MODELS[level];
}
