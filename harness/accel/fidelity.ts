// The fidelity an accelerator gives a CPU target, known before booting (the canaries
// then measure it in every guest). Pure. TCG and Bochs check every instruction against
// the guest's CPUID, so above the target they trap; KVM only masks CPUID, and the host
// CPU executes whatever needs no register state the guest kernel left off (domain.md §2).
import type { Fidelity } from '../levels/canaries.js';
import { targetAbsentFeatures, targetRunsFeatures, type CpuTarget } from '../levels/targets.js';
import type { Feature } from '../levels/table.js';
import type { Accel } from '../model/accel.js';

/** What --require-fidelity (requireFidelity) accepts: every cell's guest must trap. */
export const REQUIRED_FIDELITIES = ['traps'] as const;
export type RequiredFidelity = (typeof REQUIRED_FIDELITIES)[number];

/** Instructions of these features need the AVX (YMM) state; XGETBV reports it. */
const YMM = new Set(['AVX', 'AVX2', 'FMA', 'F16C', 'OSXSAVE']);
const ZMM = new Set(['AVX512F', 'AVX512BW', 'AVX512CD', 'AVX512DQ', 'AVX512VL']);

/**
 * The features the target refuses whose instructions a KVM guest still executes on the
 * host CPU (a host with the feature): every one that needs no register state, and those
 * whose state the guest kernel enables anyway (FMA on a CPU with AVX: v3-fma).
 */
export function kvmLeaks(target: CpuTarget): Feature[] {
  const runs = new Set(targetRunsFeatures(target).map((f) => f.psabi));
  // An OS near miss's missing feature is refused by the kernel (its state left off), on KVM as on hardware.
  return targetAbsentFeatures(target).filter((f) => (YMM.has(f.psabi) ? runs.has('AVX') : ZMM.has(f.psabi) ? runs.has('AVX512F') : true));
}

/** What `accel` gives `target`: `untested` where nothing lies above it to refuse. */
export function expectedFidelity(accel: Accel, target: CpuTarget): Fidelity {
  const refuses = targetAbsentFeatures(target).length > 0 || target.nearMiss !== undefined;
  if (!refuses) return 'untested';
  if (accel !== 'kvm') return 'traps';
  return kvmLeaks(target).length > 0 ? 'masks-only' : 'traps';
}
