// The matrix as data: scenarios × levels × drivers, filtered, in a stable order, each
// cell with a name unique across the run. Pure.
import { LEVEL_NAMES, type LevelName } from '../levels/table.js';
import type { CellRef } from '../results/types.js';
import type { DriverName, Scenario } from '../scenario/types.js';
import { UsageError } from '../util/errors.js';

export interface Cell {
  /** "scenario[level,driver]": unique across the matrix. */
  readonly id: string;
  readonly scenario: Scenario;
  readonly level: LevelName;
  readonly driver: DriverName;
}

export interface PlanFilter {
  readonly levels?: readonly LevelName[];
  readonly drivers?: readonly DriverName[];
  /** Scenario ids; each must exist. */
  readonly scenarios?: readonly string[];
  /** Substring or /regex/ matched against cell ids. */
  readonly grep?: string;
  readonly tags?: readonly string[];
}

export const cellId = (scenario: string, level: LevelName, driver: DriverName): string => `${scenario}[${level},${driver}]`;

export function planCells(catalog: readonly Scenario[], filter: PlanFilter = {}): Cell[] {
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
    for (const level of LEVEL_NAMES) {
      if (scenario.levels && !scenario.levels.includes(level)) continue;
      if (filter.levels?.length && !filter.levels.includes(level)) continue;
      for (const driver of scenario.drivers) {
        if (filter.drivers?.length && !filter.drivers.includes(driver)) continue;
        const id = cellId(scenario.id, level, driver);
        if (filter.grep && !(grep ? grep.test(id) : id.includes(filter.grep))) continue;
        cells.push({ id, scenario, level, driver });
      }
    }
  }
  return cells;
}

/** The cell as reporters see it. */
export const cellRef = (cell: Cell): CellRef => ({ id: cell.id, scenario: cell.scenario.id, title: cell.scenario.title, level: cell.level, driver: cell.driver });
