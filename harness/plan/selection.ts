// The cells a run plans: the configuration's levels, drivers and near misses, replaced
// by what was asked for (levels, drivers), narrowed (scenarios, grep, tags, shard),
// each id ending with the run's name. What gate runs, gate --list shows and check
// counts, from one function. Pure.
import type { Scenario } from '../scenario/types.js';
import type { DriverName } from '../model/package-manager.js';
import { throwProblems, UsageError } from '../util/errors.js';
import { normaliseDrivers, normaliseTargets } from './normalise.js';
import { planCells, type Cell } from './plan.js';
import { parseShard, shardCells } from './shard.js';

export interface Selection {
  /** Levels and near misses, in any spelling the flags accept (replace the configuration's). */
  readonly levels?: readonly string[];
  readonly drivers?: readonly string[];
  /** Add every near miss for the scenarios made for them (or the configuration's nearMisses). */
  readonly nearMisses?: boolean;
  readonly scenarios?: readonly string[];
  readonly grep?: string;
  readonly tags?: readonly string[];
  /** "I/N". */
  readonly shard?: string;
}

/** What of the configuration the plan reads (already normalised by the loader). */
export interface PlanDefaults {
  readonly levels?: readonly string[];
  readonly drivers?: readonly DriverName[];
  readonly nearMisses?: boolean;
}

export function selectCells(scenarios: readonly Scenario[], defaults: PlanDefaults, selection: Selection = {}, name?: string): Cell[] {
  const levels = normaliseTargets(selection.levels, 'levels');
  const drivers = normaliseDrivers(selection.drivers, 'drivers');
  throwProblems([...levels.problems, ...drivers.problems]);
  const shard = selection.shard !== undefined ? parseShard(selection.shard) : undefined;
  let cells = planCells(scenarios, {
    targets: levels.values.length > 0 ? levels.values : [...(defaults.levels ?? [])],
    nearMisses: selection.nearMisses === true || defaults.nearMisses === true,
    drivers: drivers.values.length > 0 ? drivers.values : [...(defaults.drivers ?? [])],
    ...(selection.scenarios?.length ? { scenarios: selection.scenarios } : {}),
    ...(selection.grep ? { grep: selection.grep } : {}),
    ...(selection.tags?.length ? { tags: selection.tags } : {}),
    ...(name ? { name } : {}),
  });
  if (shard) cells = shardCells(cells, shard);
  if (cells.length === 0) throw new UsageError(`the filters select no cell${shard ? ` (shard ${selection.shard} is empty)` : ''}`);
  return cells;
}
