// The matrix as data: scenarios × levels × drivers, filtered, in a stable order, each
// cell with a name unique across the run. Pure.
import type { LevelName } from '../levels/table.js';
import { ALL_NEAR_MISSES, ALL_TARGETS, EXACT_TARGETS, type CpuTarget } from '../levels/targets.js';
import type { CellRef } from '../results/types.js';
import { type Scenario } from '../scenario/types.js';
import { DRIVER_NAMES, type DriverName } from '../model/package-manager.js';
import { UsageError } from '../util/errors.js';
import { KNOWN_DRIVERS, KNOWN_TARGETS } from './normalise.js';

export interface Cell {
  /** "scenario[target,driver]", and "@NAME" when the run is named (its image or project): unique across runs merged together. */
  readonly id: string;
  readonly scenario: Scenario;
  /** The CPU the cell starts on: an exact level or a near miss. */
  readonly target: CpuTarget;
  /** The level that CPU meets (`target.level`). */
  readonly level: LevelName;
  readonly driver: DriverName;
}

export interface PlanFilter {
  /** CPU target names (levels and near misses); none: every exact level. */
  readonly targets?: readonly string[];
  /** Add every near miss, for the scenarios that run on near misses (`nearMisses: true`). */
  readonly nearMisses?: boolean;
  readonly drivers?: readonly DriverName[];
  /** Scenario ids; each must exist. */
  readonly scenarios?: readonly string[];
  /** Substring or /regex/ matched against cell ids. */
  readonly grep?: string;
  readonly tags?: readonly string[];
  /** The run's name (the gated image's, or the configuration's `name`): it ends every cell id. */
  readonly name?: string;
}

export const cellId = (scenario: string, target: string, driver: DriverName, name?: string): string => `${scenario}[${target},${driver}]${name ? `@${name}` : ''}`;

/**
 * Whether `scenario` runs on `target`. Exact levels: those the scenario lists (all by
 * default). Near misses: named with --level, or added by --near-misses to the
 * scenarios made for them; either way only where the scenario runs at the level the
 * near miss meets.
 */
function runsOn(scenario: Scenario, target: CpuTarget, filter: PlanFilter): boolean {
  // A near miss the scenario names runs whatever level it meets.
  const listed = Array.isArray(scenario.nearMisses) && scenario.nearMisses.includes(target.name);
  if (scenario.levels && !scenario.levels.includes(target.level) && !listed) return false;
  const named = filter.targets?.includes(target.name) ?? false;
  if (!target.nearMiss) return !filter.targets?.length || named;
  const madeFor = scenario.nearMisses === true || (Array.isArray(scenario.nearMisses) && scenario.nearMisses.includes(target.name));
  return named || (filter.nearMisses === true && madeFor && (!filter.targets?.length || filter.targets.includes(target.level)));
}

export function planCells(catalog: readonly Scenario[], filter: PlanFilter = {}): Cell[] {
  // Names reach here normalised (flags and configuration alike); one that is not would silently select nothing.
  for (const name of filter.targets ?? []) if (!ALL_TARGETS.some((t) => t.name === name)) throw new UsageError(`levels: '${name}' is not a level or a near miss; ${KNOWN_TARGETS}`);
  for (const name of filter.drivers ?? []) if (!(DRIVER_NAMES as readonly string[]).includes(name)) throw new UsageError(`drivers: '${name}' is not a driver; ${KNOWN_DRIVERS}`);
  for (const id of filter.scenarios ?? []) {
    if (!catalog.some((s) => s.id === id)) {
      throw new UsageError(`--scenario: '${id}' is not a scenario; known: ${catalog.map((s) => s.id).join(', ')}`);
    }
  }
  const grep = filter.grep ? (filter.grep.startsWith('/') && filter.grep.endsWith('/') ? new RegExp(filter.grep.slice(1, -1)) : undefined) : undefined;
  const cells: Cell[] = [];
  for (const scenario of catalog) {
    if (filter.scenarios?.length && !filter.scenarios.includes(scenario.id)) continue;
    if (filter.tags?.length && !filter.tags.some((t) => scenario.tags.includes(t))) continue;
    for (const target of [...EXACT_TARGETS, ...ALL_NEAR_MISSES]) {
      if (!runsOn(scenario, target, filter)) continue;
      for (const driver of scenario.drivers) {
        if (filter.drivers?.length && !filter.drivers.includes(driver)) continue;
        const id = cellId(scenario.id, target.name, driver, filter.name);
        if (filter.grep && !(grep ? grep.test(id) : id.includes(filter.grep))) continue;
        cells.push({ id, scenario, target, level: target.level, driver });
      }
    }
  }
  return cells;
}

/** The cell as reporters see it. */
export const cellRef = (cell: Cell): CellRef => ({ id: cell.id, scenario: cell.scenario.id, title: cell.scenario.title, target: cell.target.name, level: cell.level, driver: cell.driver });

/** The distinct CPU targets of `cells`, in plan order. */
export const targetsOf = (cells: readonly Cell[]): CpuTarget[] => [...new Map(cells.map((c) => [c.target.name, c.target])).values()];
