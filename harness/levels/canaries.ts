// Fidelity canaries: one instruction per feature above a level, run in the guest by
// levelgate-canary (harness/image/guest/canary.c), and what their outcomes mean.
import { isLevelName, levelIndex, type LevelName } from './table.js';

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

export function judgeCanaries(level: LevelName, results: readonly CanaryResult[]): CanaryVerdict {
  const pinned = levelIndex(level);
  const brokenAtLevel = results.filter((r) => levelIndex(r.level) <= pinned && r.outcome !== 'ok');
  const above = results.filter((r) => levelIndex(r.level) > pinned);
  const leakedAbove = above.filter((r) => r.outcome === 'ok');
  const fidelity: Fidelity = above.length === 0 ? 'untested' : leakedAbove.length > 0 ? 'masks-only' : 'traps';
  return { fidelity, brokenAtLevel, leakedAbove };
}
