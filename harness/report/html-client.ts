// The HTML report's script, run in the browser: draws the group headers, renders a
// group's rows only when it is opened (200 at a time), a cell's details only when its
// badge is clicked, and filters rows by the search box and the "needs attention" box.
// Typed here against the few browser calls it makes; the page embeds the source text of
// the functions in CLIENT_FUNCTIONS, so each uses nothing but its arguments and them.
import type { GridCell, ReportModel } from './html-model.js';

/** The parts of the browser's DOM the script touches. */
interface Element {
  innerHTML: string;
  textContent: string | null;
  value: string;
  checked: boolean;
  open: boolean;
  readonly tagName: string;
  readonly dataset: Record<string, string | undefined>;
  readonly nextElementSibling: Element | null;
  addEventListener(type: string, listener: (event: { target: Element }) => void, capture?: boolean): void;
  querySelector(selector: string): Element | null;
  querySelectorAll(selector: string): ArrayLike<Element>;
  closest(selector: string): Element | null;
  insertAdjacentHTML(where: 'afterend' | 'beforeend', html: string): void;
  remove(): void;
  click(): void;
}

export interface BrowserWindow {
  readonly document: { getElementById(id: string): Element | null; readonly documentElement: Element };
  readonly location: { readonly hash: string };
  readonly performance: { now(): number };
  requestAnimationFrame(callback: () => void): void;
  setTimeout(callback: () => void, ms: number): number;
  clearTimeout(id: number): void;
  addEventListener(type: 'load' | 'DOMContentLoaded', listener: () => void): void;
}

/** What the page's script holds: the report model, its elements, and what is drawn of it. */
interface Page {
  readonly win: BrowserWindow;
  readonly model: ReportModel;
  readonly colours: Readonly<Record<string, string>>;
  readonly openAll: boolean;
  readonly query: Element;
  readonly attention: Element;
  readonly groupsEl: Element;
  readonly shownEl: Element;
  /** The rows each group shows under the current filter. */
  visible: number[][];
  /** How many of a group's visible rows are drawn (undefined: not drawn yet). */
  readonly drawn: number[];
  /** The text a row is searched in, lowercased, built on the first search. */
  haystacks?: string[];
  details?: string[];
  logs?: string[];
}

function readJson<T>(win: BrowserWindow, id: string): T {
  return JSON.parse(win.document.getElementById(id)!.textContent ?? 'null') as T;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function needsAttention(cell: GridCell): boolean {
  return cell[1] === 'fail' || cell[1] === 'xpass' || cell[1] === 'error';
}

function rowHaystack(page: Page, r: number): string {
  const { model } = page;
  if (!page.haystacks) {
    const groupOfRow: string[] = [];
    for (const g of model.groups) for (const row of g.rows) groupOfRow[row] = g.key;
    page.haystacks = model.rows.map((row, i) => `${row.key} ${row.title} ${groupOfRow[i] ?? ''} ${row.cells.map((c) => `${model.cells[c]![0]} ${model.cells[c]![1]} ${model.cells[c]![4]}`).join(' ')}`.toLowerCase());
  }
  return page.haystacks[r]!;
}

function filterRows(page: Page): void {
  const { model } = page;
  const terms = page.query.value.toLowerCase().split(/\s+/).filter(Boolean);
  const onlyAttention = page.attention.checked;
  page.visible = model.groups.map((g) =>
    g.rows.filter((r) => (!onlyAttention || model.rows[r]!.cells.some((c) => needsAttention(model.cells[c]!))) && terms.every((t) => rowHaystack(page, r).includes(t))),
  );
}

function countsHtml(page: Page, counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([v, n]) => `<span class="count" style="background:${page.colours[v]}">${n} ${v}</span>`)
    .join(' ');
}

function badgeHtml(page: Page, c: number): string {
  const [, verdict, driver, , reason, flaky] = page.model.cells[c]!;
  return `<button class="b" data-c="${c}" style="background:${page.colours[verdict]}" title="${esc(reason)}">${esc(driver)} ${verdict}${flaky ? ' (flaky)' : ''}</button>`;
}

function rowHtml(page: Page, r: number): string {
  const { model } = page;
  const row = model.rows[r]!;
  const tds = model.columns.map((_, col) => {
    const badges = row.cells.filter((c) => model.cells[c]![3] === col).map((c) => badgeHtml(page, c)).join('');
    return `<td>${badges || '<span class="none">—</span>'}</td>`;
  });
  return `<tr data-r="${r}"><th>${esc(row.key)}${row.title ? `<div class="title">${esc(row.title)}</div>` : ''}</th>${tds.join('')}</tr>`;
}

/** Draws the next page (200 rows) of a group's visible rows. */
function drawMore(page: Page, g: number): void {
  const { model } = page;
  const body = page.groupsEl.querySelector(`details[data-g="${g}"] .rows`)!;
  const rows = page.visible[g]!;
  const from = page.drawn[g] ?? 0;
  const pageRows = 200;
  if (from === 0) body.innerHTML = `<table><thead><tr><th>${model.groups[g]!.key === 'scenarios' ? 'scenario' : 'name'}</th>${model.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody></tbody></table><p class="more"></p>`;
  const upTo = Math.min(rows.length, from + pageRows);
  body.querySelector('tbody')!.insertAdjacentHTML('beforeend', rows.slice(from, upTo).map((r) => rowHtml(page, r)).join(''));
  page.drawn[g] = upTo;
  body.querySelector('.more')!.innerHTML = upTo < rows.length ? `<button class="show" data-g="${g}">show ${Math.min(pageRows, rows.length - upTo)} more of ${rows.length - upTo}</button>` : '';
}

/** Filters, then draws every group's header and the first page of each open group. */
function draw(page: Page): void {
  filterRows(page);
  const { model, visible } = page;
  const filtering = page.query.value.trim() !== '' || page.attention.checked;
  page.drawn.length = 0;
  page.groupsEl.innerHTML = model.groups
    .map((g, i) => {
      const open = visible[i]!.length > 0 && (filtering || page.openAll);
      const matching = filtering ? ` · ${visible[i]!.length} of ${g.rows.length} rows match` : ` · ${g.rows.length} rows`;
      return `<details class="group" data-g="${i}"${open ? ' open' : ''}><summary><b>${esc(g.key)}</b> ${countsHtml(page, g.counts)}${matching}</summary><div class="rows"></div></details>`;
    })
    .join('');
  model.groups.forEach((_, i) => {
    if (page.groupsEl.querySelector(`details[data-g="${i}"]`)!.open) drawMore(page, i);
  });
  const rows = visible.reduce((n, v) => n + v.length, 0);
  page.shownEl.textContent = filtering ? `${rows} of ${model.rows.length} rows match` : `${model.rows.length} rows, ${model.cells.length} cells`;
}

/** A click in the grid: the next page of a group, or a badge's details opened (or closed) under its row. */
function onGridClick(page: Page, target: Element): void {
  const more = target.closest('button.show');
  if (more) return drawMore(page, Number(more.dataset.g));
  const button = target.closest('button.b');
  if (!button) return;
  const c = button.dataset.c!;
  const tr = button.closest('tr')!;
  const next = tr.nextElementSibling;
  if (next && next.dataset.detail === c) return next.remove();
  if (next && next.dataset.detail !== undefined) next.remove();
  page.details ??= readJson<string[]>(page.win, 'lg-details');
  tr.insertAdjacentHTML('afterend', `<tr class="detail" data-detail="${c}"><td colspan="${page.model.columns.length + 1}"><div class="panel">${page.details[Number(c)]}</div></td></tr>`);
  const pres = tr.nextElementSibling!.querySelectorAll('pre[data-log]');
  for (let i = 0; i < pres.length; i++) {
    page.logs ??= readJson<string[]>(page.win, 'lg-logs');
    pres[i]!.textContent = page.logs[Number(pres[i]!.dataset.log)] ?? '';
  }
}

/** report.html#q=TEXT&attention&cell=ID opens the page filtered (a link to one name, or to the failures); returns the linked cell's id. */
function applyLink(page: Page): string | undefined {
  let linked: string | undefined;
  for (const part of page.win.location.hash.slice(1).split('&')) {
    const [key, value = ''] = part.split('=');
    const text = decodeURIComponent(value.replace(/\+/g, ' '));
    if (key === 'q') page.query.value = text;
    if (key === 'attention') page.attention.checked = true;
    if (key === 'cell') linked = text;
  }
  if (linked !== undefined && !page.query.value) page.query.value = linked;
  return linked;
}

export function reportClient(win: BrowserWindow, colours: Readonly<Record<string, string>>, openAll: boolean): void {
  const doc = win.document;
  const byId = (id: string): Element => doc.getElementById(id)!;
  const page: Page = { win, model: readJson<ReportModel>(win, 'lg-model'), colours, openAll, query: byId('lg-q'), attention: byId('lg-attention'), groupsEl: byId('lg-groups'), shownEl: byId('lg-shown'), visible: [], drawn: [] };
  // A group drawn when it is first opened; a badge's details when it is clicked.
  page.groupsEl.addEventListener(
    'toggle',
    (event) => {
      const g = event.target.dataset.g;
      if (event.target.tagName === 'DETAILS' && g !== undefined && event.target.open && page.drawn[Number(g)] === undefined) drawMore(page, Number(g));
    },
    true,
  );
  page.groupsEl.addEventListener('click', (event) => onGridClick(page, event.target));
  let pending: number | undefined;
  page.query.addEventListener('input', () => {
    if (pending !== undefined) win.clearTimeout(pending);
    pending = win.setTimeout(() => draw(page), 120);
  });
  page.attention.addEventListener('change', () => draw(page));
  const linked = applyLink(page);
  draw(page);
  // The details are parsed after this script: a linked cell opens once they are.
  const cell = linked === undefined ? -1 : page.model.cells.findIndex((c) => c[0] === linked);
  if (cell >= 0) win.addEventListener('DOMContentLoaded', () => page.groupsEl.querySelector(`button.b[data-c="${cell}"]`)?.click());
  // How long the page took to open, for bench/report-scale.ts: its first frame drawn, and the whole file read (the details included).
  win.requestAnimationFrame(() => win.setTimeout(() => (doc.documentElement.dataset.openedMs = String(Math.round(win.performance.now()))), 0));
  win.addEventListener('load', () => (doc.documentElement.dataset.loadedMs = String(Math.round(win.performance.now()))));
}

/** The functions the page's script is made of, its entry point last: the page embeds their source text. */
export const CLIENT_FUNCTIONS = [readJson, esc, needsAttention, rowHaystack, filterRows, countsHtml, badgeHtml, rowHtml, drawMore, draw, onGridClick, applyLink, reportClient] as const;

/** The page's script: its functions, and the call that starts it. */
export function clientScript(colours: Readonly<Record<string, string>>, openAll: boolean): string {
  return `(() => {\n${CLIENT_FUNCTIONS.map((f) => f.toString()).join('\n')}\nreportClient(window, ${JSON.stringify(colours)}, ${openAll});\n})();`;
}
