// From instruction counts per iced Code to what a body of code needs: the features with
// their counts, the lowest level that runs all of them, what lies beyond every level.
import { LEVEL_NAMES, type LevelName } from '../levels/table.js';
import { levelNameAt, psabiLevel } from './features.js';
import { codeInfo } from './isa.js';
import type { ExampleInstruction, IsaSummary } from './types.js';

export interface FeatureTally {
  readonly feature: string;
  /** Level index, or -1 for a feature outside every level. */
  readonly level: number;
  count: number;
  /** The Codes that need it (to find example instructions). */
  readonly codes: Set<number>;
}

export interface Tally {
  readonly features: Map<string, FeatureTally>;
  readonly discounted: Map<string, number>;
  /** Highest level index of non-discounted Codes, -1 when none. */
  level: number;
}

/** Adds `counts` (Code → instructions) into a tally. */
export function tallyCodes(counts: ReadonlyMap<number, number>, bits: 32 | 64, into: Tally = { features: new Map(), discounted: new Map(), level: -1 }): Tally {
  for (const [code, n] of counts) {
    const info = codeInfo(code, bits);
    if (info.discounted) {
      into.discounted.set(info.discounted, (into.discounted.get(info.discounted) ?? 0) + n);
      continue;
    }
    into.level = Math.max(into.level, info.level);
    const add = (feature: string, level: number) => {
      let t = into.features.get(feature);
      if (!t) into.features.set(feature, (t = { feature, level, count: 0, codes: new Set() }));
      t.count += n;
      t.codes.add(code);
    };
    for (const f of info.psabi) add(f, psabiLevel(f) ?? 0);
    for (const f of info.beyond) add(f, -1);
  }
  return into;
}

/** The summary of a tally, with example instructions per feature. */
export function summarise(tally: Tally, instructions: number, examples: ReadonlyMap<string, readonly ExampleInstruction[]>): IsaSummary {
  const level = levelNameAt(Math.max(0, tally.level));
  const features = [...tally.features.values()].sort((a, b) => (a.level < 0 ? 99 : a.level) - (b.level < 0 ? 99 : b.level) || a.feature.localeCompare(b.feature));
  return {
    level,
    levelSetBy: tally.level > 0 ? features.filter((f) => f.level === tally.level).map((f) => f.feature) : [],
    beyond: features.filter((f) => f.level < 0).map((f) => f.feature),
    features: features.map((f) => ({ feature: f.feature, level: f.level < 0 ? null : (LEVEL_NAMES[f.level] as LevelName), count: f.count, examples: examples.get(f.feature) ?? [] })),
    discounted: [...tally.discounted.entries()].map(([what, count]) => ({ what, count })),
    instructions,
  };
}
