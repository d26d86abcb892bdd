// Splits a plan across CI jobs, deterministically, so every job computes the same
// split from the same input: the catalog's cells by whole groups (one scenario at one
// level, every driver) in plan order; a compose audit's names whole (every level and
// driver of a name in one job) in code-unit order. Keys are dealt round-robin. Pure.
import { UsageError } from '../util/errors.js';
import type { Cell } from './plan.js';

export interface Shard {
  /** 1-based. */
  readonly index: number;
  readonly total: number;
}

export function parseShard(value: string, flag = '--shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(value.trim());
  const index = Number(m?.[1]);
  const total = Number(m?.[2]);
  if (!m || total < 1 || index < 1 || index > total) {
    throw new UsageError(`${flag}: '${value}' is not a shard; use I/N with 1 <= I <= N, e.g. ${flag} 2/4`);
  }
  return { index, total };
}

/** The items whose key is the shard's: the distinct keys, in the order given, dealt round-robin; an item goes where its key goes. */
export function inShard<T>(items: readonly T[], keyOf: (item: T) => string, shard: Shard): T[] {
  const keys = [...new Set(items.map(keyOf))];
  const mine = new Set(keys.filter((_, i) => i % shard.total === shard.index - 1));
  return items.filter((item) => mine.has(keyOf(item)));
}

/** The shard group of a cell (scenario at level): cells of one group always land in the same shard. */
export const shardGroupOf = (cell: Cell): string => `${cell.scenario.id}@${cell.level}`;

export const shardCells = (cells: readonly Cell[], shard: Shard): Cell[] => inShard(cells, shardGroupOf, shard);

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A compose audit's names for one shard (`--shard I/N`): each name whole, in code-unit
 * order whatever order the metadata lists them in, dealt round-robin (shards differ by
 * at most one name). The audit judges these names at every level and driver.
 */
export const shardNames = (names: readonly string[], shard: Shard): string[] => inShard([...new Set(names)].sort(byCodeUnit), (name) => name, shard);
