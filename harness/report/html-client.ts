// The HTML report's script, run in the browser: draws the group headers, renders a
// group's rows only when it is opened (200 at a time), a cell's details only when its
// badge is clicked, and filters rows by the search box and the "needs attention" box.
// Typed here against the few browser calls it makes; the page embeds its source text,
// so it uses nothing outside its own body.
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

export function reportClient(win: BrowserWindow, colours: Readonly<Record<string, string>>, openAll: boolean): void {
  const doc = win.document;
  const byId = (id: string): Element => doc.getElementById(id)!;
  const read = <T>(id: string): T => JSON.parse(byId(id).textContent ?? 'null') as T;
  const model = read<ReportModel>('lg-model');
  let details: string[] | undefined;
  let logs: string[] | undefined;
  const esc = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const PAGE = 200;
  const needs = (cell: GridCell): boolean => cell[1] === 'fail' || cell[1] === 'xpass' || cell[1] === 'error';
  const query = byId('lg-q');
  const attention = byId('lg-attention');
  const groupsEl = byId('lg-groups');
  const shownEl = byId('lg-shown');
  // The text a row is searched in, lowercased, built on the first search.
  let haystacks: string[] | undefined;
  const haystack = (r: number): string => {
    if (!haystacks) {
      const groupOfRow: string[] = [];
      for (const g of model.groups) for (const row of g.rows) groupOfRow[row] = g.key;
      haystacks = model.rows.map((row, i) => `${row.key} ${row.title} ${groupOfRow[i] ?? ''} ${row.cells.map((c) => `${model.cells[c]![0]} ${model.cells[c]![1]} ${model.cells[c]![4]}`).join(' ')}`.toLowerCase());
    }
    return haystacks[r]!;
  };
  /** The rows each group shows under the current filter, and how many of them are drawn. */
  let visible: number[][] = [];
  const drawn: number[] = [];
  const filter = (): void => {
    const terms = query.value.toLowerCase().split(/\s+/).filter(Boolean);
    const onlyAttention = attention.checked;
    visible = model.groups.map((g) =>
      g.rows.filter((r) => (!onlyAttention || model.rows[r]!.cells.some((c) => needs(model.cells[c]!))) && terms.every((t) => haystack(r).includes(t))),
    );
  };
  const countsHtml = (counts: Readonly<Record<string, number>>): string =>
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .map(([v, n]) => `<span class="count" style="background:${colours[v]}">${n} ${v}</span>`)
      .join(' ');
  const badge = (c: number): string => {
    const [, verdict, driver, , reason, flaky] = model.cells[c]!;
    return `<button class="b" data-c="${c}" style="background:${colours[verdict]}" title="${esc(reason)}">${esc(driver)} ${verdict}${flaky ? ' (flaky)' : ''}</button>`;
  };
  const rowHtml = (r: number): string => {
    const row = model.rows[r]!;
    const tds = model.columns.map((_, col) => {
      const badges = row.cells.filter((c) => model.cells[c]![3] === col).map(badge).join('');
      return `<td>${badges || '<span class="none">—</span>'}</td>`;
    });
    return `<tr data-r="${r}"><th>${esc(row.key)}${row.title ? `<div class="title">${esc(row.title)}</div>` : ''}</th>${tds.join('')}</tr>`;
  };
  /** Draws the next page of a group's visible rows. */
  const drawMore = (g: number): void => {
    const body = groupsEl.querySelector(`details[data-g="${g}"] .rows`)!;
    const rows = visible[g]!;
    const from = drawn[g] ?? 0;
    if (from === 0) body.innerHTML = `<table><thead><tr><th>${model.groups[g]!.key === 'scenarios' ? 'scenario' : 'name'}</th>${model.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody></tbody></table><p class="more"></p>`;
    const upTo = Math.min(rows.length, from + PAGE);
    body.querySelector('tbody')!.insertAdjacentHTML('beforeend', rows.slice(from, upTo).map(rowHtml).join(''));
    drawn[g] = upTo;
    body.querySelector('.more')!.innerHTML = upTo < rows.length ? `<button class="show" data-g="${g}">show ${Math.min(PAGE, rows.length - upTo)} more of ${rows.length - upTo}</button>` : '';
  };
  const draw = (): void => {
    filter();
    const filtering = query.value.trim() !== '' || attention.checked;
    drawn.length = 0;
    groupsEl.innerHTML = model.groups
      .map((g, i) => {
        const open = visible[i]!.length > 0 && (filtering || openAll);
        const matching = filtering ? ` · ${visible[i]!.length} of ${g.rows.length} rows match` : ` · ${g.rows.length} rows`;
        return `<details class="group" data-g="${i}"${open ? ' open' : ''}><summary><b>${esc(g.key)}</b> ${countsHtml(g.counts)}${matching}</summary><div class="rows"></div></details>`;
      })
      .join('');
    model.groups.forEach((_, i) => {
      if (groupsEl.querySelector(`details[data-g="${i}"]`)!.open) drawMore(i);
    });
    const rows = visible.reduce((n, v) => n + v.length, 0);
    shownEl.textContent = filtering ? `${rows} of ${model.rows.length} rows match` : `${model.rows.length} rows, ${model.cells.length} cells`;
  };
  // A group drawn when it is first opened; a badge's details when it is clicked.
  groupsEl.addEventListener(
    'toggle',
    (event) => {
      const g = event.target.dataset.g;
      if (event.target.tagName === 'DETAILS' && g !== undefined && event.target.open && drawn[Number(g)] === undefined) drawMore(Number(g));
    },
    true,
  );
  groupsEl.addEventListener('click', (event) => {
    const more = event.target.closest('button.show');
    if (more) return drawMore(Number(more.dataset.g));
    const button = event.target.closest('button.b');
    if (!button) return;
    const c = button.dataset.c!;
    const tr = button.closest('tr')!;
    const next = tr.nextElementSibling;
    if (next && next.dataset.detail === c) return next.remove();
    if (next && next.dataset.detail !== undefined) next.remove();
    details ??= read<string[]>('lg-details');
    tr.insertAdjacentHTML('afterend', `<tr class="detail" data-detail="${c}"><td colspan="${model.columns.length + 1}"><div class="panel">${details[Number(c)]}</div></td></tr>`);
    const pres = tr.nextElementSibling!.querySelectorAll('pre[data-log]');
    for (let i = 0; i < pres.length; i++) {
      logs ??= read<string[]>('lg-logs');
      pres[i]!.textContent = logs[Number(pres[i]!.dataset.log)] ?? '';
    }
  });
  let pending: number | undefined;
  const later = (): void => {
    if (pending !== undefined) win.clearTimeout(pending);
    pending = win.setTimeout(draw, 120);
  };
  query.addEventListener('input', later);
  attention.addEventListener('change', draw);
  // report.html#q=TEXT&attention&cell=ID opens the page filtered (a link to one name, or to the failures), a cell's details open.
  let linked: string | undefined;
  for (const part of win.location.hash.slice(1).split('&')) {
    const [key, value = ''] = part.split('=');
    const text = decodeURIComponent(value.replace(/\+/g, ' '));
    if (key === 'q') query.value = text;
    if (key === 'attention') attention.checked = true;
    if (key === 'cell') linked = text;
  }
  if (linked !== undefined && !query.value) query.value = linked;
  draw();
  // The details are parsed after this script: a linked cell opens once they are.
  const cell = linked === undefined ? -1 : model.cells.findIndex((c) => c[0] === linked);
  if (cell >= 0) win.addEventListener('DOMContentLoaded', () => groupsEl.querySelector(`button.b[data-c="${cell}"]`)?.click());
  // How long the page took to open, for bench/report-scale.ts: its first frame drawn, and the whole file read (the details included).
  win.requestAnimationFrame(() => win.setTimeout(() => (doc.documentElement.dataset.openedMs = String(Math.round(win.performance.now()))), 0));
  win.addEventListener('load', () => (doc.documentElement.dataset.loadedMs = String(Math.round(win.performance.now()))));
}
