// When a cell must run on a guest that traps (--require-fidelity traps, or
// --require-levels: a masks-only guest does not provide its level), and why one cannot:
// before booting, from the accelerator's expected fidelity; after, from the canaries'.
import type { Placed } from '../accel/placement.js';
import { expectedFidelity, kvmLeaks, type RequiredFidelity } from '../accel/fidelity.js';
import type { CpuTarget } from '../levels/targets.js';
import { levelIndex } from '../levels/table.js';
import type { ProofRecord } from '../results/types.js';

/** The flag that makes a guest that cannot trap an error, or undefined. */
export function trapRequirement(env: { readonly requireFidelity?: RequiredFidelity; readonly requireLevels?: boolean }): string | undefined {
  if (env.requireFidelity === 'traps') return '--require-fidelity traps';
  return env.requireLevels ? '--require-levels' : undefined;
}

/** Why the backend `placed` on cannot give `target` a guest that traps (it only masks CPUID), or undefined. */
export function cannotTrap(target: CpuTarget, { accel, backend }: Pick<Placed, 'accel' | 'backend'>, required: string): string | undefined {
  if (expectedFidelity(accel, target) !== 'masks-only') return undefined;
  const leaks = kvmLeaks(target).map((f) => f.psabi);
  return `${target.name} must run on a guest that traps (${required}) but ${backend.title} only masks CPUID there: ${leaks.join(' ')} would run on the host CPU; use --accel auto or tcg`;
}

/** Why a cell's guests did not trap, measured by their canaries, or undefined. */
export function didNotTrap(proofs: readonly ProofRecord[], target: string, required: string): string | undefined {
  const proof = proofs.find((p) => p.fidelity === 'masks-only');
  if (!proof) return undefined;
  const ran = proof.canaries.filter((c) => c.outcome === 'ok' && levelIndex(c.level) > levelIndex(proof.requested)).map((c) => c.name);
  return `${target} must run on a guest that traps (${required}) but its guest at ${proof.requested} only masks CPUID (fidelity masks-only: canaries ${ran.join(', ') || 'above it'} ran)`;
}
