// What the HTML report shows, as data: cells grouped (a compose's variant pattern, or
// the scenarios) into rows (a package name, or a scenario) with a column per CPU
// target, groups and rows that need attention first. Pure; the page embeds it as JSON
// and its script renders a group only when it is opened.
import { ALL_TARGETS } from '../levels/targets.js';
import type { CellResult, Verdict } from '../results/types.js';

/** A cell as the page's grid needs it: [id, verdict, driver, column, reason, flaky 0/1]. */
export type GridCell = readonly [id: string, verdict: Verdict, driver: string, column: number, reason: string, flaky: 0 | 1];

export interface GridRow {
  /** The package name, or the scenario. */
  readonly key: string;
  /** The scenario's title ('' for a package name). */
  readonly title: string;
  /** Indexes into the model's cells, by column then driver. */
  readonly cells: readonly number[];
}

export interface GridGroup {
  readonly key: string;
  readonly counts: Readonly<Record<Verdict, number>>;
  /** Indexes into the model's rows, those that need attention first. */
  readonly rows: readonly number[];
}

export interface ReportModel {
  /** The CPU targets of the run, exact levels first, then near misses, in table order. */
  readonly columns: readonly string[];
  readonly groups: readonly GridGroup[];
  readonly rows: readonly GridRow[];
  /** In the run's order: the page's details are indexed the same way. */
  readonly cells: readonly GridCell[];
}

/** What needs a person first (fail, xpass, error: 0), then what a known issue or a skip explains (1), then passes (2). */
export const urgency = (verdict: Verdict): number => (verdict === 'fail' || verdict === 'xpass' || verdict === 'error' ? 0 : verdict === 'pass' ? 2 : 1);

/** The group of a cell: its variant pattern; else the part of a dotted scenario id before its dot ('variant-audit'); else 'scenarios'. */
export function groupOf(cell: Pick<CellResult, 'pattern' | 'scenario'>): string {
  if (cell.pattern) return cell.pattern;
  const dot = cell.scenario.indexOf('.');
  return dot > 0 ? cell.scenario.slice(0, dot) : 'scenarios';
}

/** The row of a cell: its package name, else its scenario. */
export const rowOf = (cell: Pick<CellResult, 'packageName' | 'scenario'>): string => cell.packageName ?? cell.scenario;

const zero = (): Record<Verdict, number> => ({ pass: 0, fail: 0, xfail: 0, xpass: 0, skip: 0, error: 0 });

export function reportModel(cells: readonly CellResult[]): ReportModel {
  const columns = ALL_TARGETS.map((t) => t.name).filter((name) => cells.some((c) => c.target === name));
  const columnOf = new Map(columns.map((name, i) => [name, i]));
  const grid: GridCell[] = cells.map((c) => [c.id, c.verdict, c.driver, columnOf.get(c.target) ?? 0, c.reason, c.flaky ? 1 : 0]);
  // Rows and groups in first-seen order, then sorted: most urgent first, then by key.
  const rowIndex = new Map<string, number>();
  const rows: { key: string; title: string; cells: number[]; group: string; urgency: number }[] = [];
  cells.forEach((cell, i) => {
    const group = groupOf(cell);
    const key = rowOf(cell);
    const id = `${group}\u0000${key}`;
    let r = rowIndex.get(id);
    if (r === undefined) {
      r = rows.length;
      rowIndex.set(id, r);
      rows.push({ key, title: cell.packageName ? '' : cell.title, cells: [], group, urgency: 2 });
    }
    const row = rows[r]!;
    row.cells.push(i);
    row.urgency = Math.min(row.urgency, urgency(cell.verdict));
  });
  for (const row of rows) row.cells.sort((a, b) => grid[a]![3] - grid[b]![3] || grid[a]![2].localeCompare(grid[b]![2]));
  const groups = new Map<string, { key: string; counts: Record<Verdict, number>; rows: number[] }>();
  rows.forEach((row, r) => {
    let group = groups.get(row.group);
    if (!group) groups.set(row.group, (group = { key: row.group, counts: zero(), rows: [] }));
    group.rows.push(r);
    for (const c of row.cells) group.counts[grid[c]![1]]++;
  });
  const attention = (g: { counts: Record<Verdict, number> }) => g.counts.fail + g.counts.xpass + g.counts.error;
  const explained = (g: { counts: Record<Verdict, number> }) => g.counts.xfail + g.counts.skip;
  const sortedGroups = [...groups.values()].sort((a, b) => attention(b) - attention(a) || explained(b) - explained(a) || a.key.localeCompare(b.key));
  // Within a group: the rows' urgency, then their order in the run (the catalog's order; a compose's names).
  for (const group of sortedGroups) group.rows.sort((a, b) => rows[a]!.urgency - rows[b]!.urgency || a - b);
  return { columns, groups: sortedGroups, rows: rows.map(({ key, title, cells: c }) => ({ key, title, cells: c })), cells: grid };
}
