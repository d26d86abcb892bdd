// Splits a plan across CI jobs: whole groups (one scenario at one level, every driver)
// go to one shard, assigned round-robin in plan order, so every job computes the same
// split from the same catalog. Pure.
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

/** The group a cell belongs to: cells of one group always land in the same shard. */
export const groupOf = (cell: Cell): string => `${cell.scenario.id}@${cell.level}`;

export function shardCells(cells: readonly Cell[], shard: Shard): Cell[] {
  const groups = [...new Set(cells.map(groupOf))];
  const mine = new Set(groups.filter((_, i) => i % shard.total === shard.index - 1));
  return cells.filter((c) => mine.has(groupOf(c)));
}
