// A self-contained HTML report that opens fast at 20,000 cells: cells grouped (a
// compose's variant pattern, or the scenarios) into rows (a package name, or a
// scenario) with a badge per driver under each CPU target, groups and rows that need
// attention first, a search box. The grid is embedded as JSON and drawn by the page's
// own script a group at a time when it is opened; each cell's transcript, checks and
// console tail are embedded as HTML drawn only when its badge is clicked. No external
// resource.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CellResult, CheckResult, RunResult } from '../results/types.js';
import { clientScript } from './html-client.js';
import { reportModel } from './html-model.js';
import type { Reporter } from './reporter.js';
import { slowerBackendLine } from '../results/summary.js';

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLOURS: Record<string, string> = {
  pass: '#1f883d',
  fail: '#cf222e',
  xfail: '#9a6700',
  xpass: '#8250df',
  skip: '#6e7781',
  error: '#bc4c00',
};

async function consoleTail(file: string, lines = 60): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(log no longer available)';
  }
}

function checkItem(k: CheckResult): string {
  const note = k.explainedBy ? ` <i>(known issue ${escape(k.explainedBy)})</i>` : k.skipReason ? ` <i>(not judged: ${escape(k.skipReason)})</i>` : '';
  return `<li class="${k.status === 'pass' ? 'ok' : k.status === 'skip' ? 'sk' : k.explainedBy ? 'xf' : 'ko'}">${escape(k.check)}: expected <b>${escape(k.expected)}</b>, got <b>${escape(k.actual)}</b>${note}</li>`;
}

/** The console logs the cells name, each read once (a compose audit's thousands of cells share a guest's log): the tails, and each path's index among them. */
async function consoleTails(cells: readonly CellResult[]): Promise<{ tails: string[]; index: Map<string, number> }> {
  const index = new Map<string, number>();
  for (const cell of cells) for (const log of cell.consoleLogs) if (!index.has(log)) index.set(log, index.size);
  return { tails: await Promise.all([...index.keys()].map((log) => consoleTail(log))), index };
}

function cellDetails(cell: CellResult, logIndex: ReadonlyMap<string, number>): string {
  const steps = cell.steps
    .map((step) => {
      const commands = step.commands
        .map((c) => `<div class="cmd">$ ${escape(c.command)} <span class="st">${c.signal ? escape(c.signal) : `exit ${c.exitCode}`} · ${c.durationMs} ms</span></div>${`${c.stdout}${c.stderr}`.trim() ? `<pre>${escape(`${c.stdout}${c.stderr}`.trim())}</pre>` : ''}${(c.forensics ?? []).map((f) => `<div class="sigill">SIGILL: ${escape(f)}</div>`).join('')}`)
        .join('');
      const checks = step.checks.map(checkItem).join('');
      return `<h4>Step ${step.index} at ${step.level}: ${escape(step.title)}</h4>${commands}<p>installed before: <code>${escape(step.installedBefore.join(' ') || 'nothing')}</code><br>installed after: <code>${escape(step.installedAfter.join(' ') || 'nothing')}</code></p>${checks ? `<ul>${checks}</ul>` : ''}`;
    })
    .join('');
  const attachments = cell.attachments.map((a) => `<p>Evidence: <code>${escape(a)}</code></p>`).join('');
  const logs = cell.consoleLogs.map((log) => `<details><summary>console ${escape(path.basename(log))}</summary><pre data-log="${logIndex.get(log)}"></pre></details>`);
  const facts = cell.facts
    ? `<p class="facts">${escape(`${cell.facts.accel} · fidelity ${cell.facts.fidelity} · ${cell.facts.emulator} · ${cell.facts.start === 'snapshot' ? 'restored from a snapshot' : 'cold boot'} · -cpu ${cell.facts.cpu} · image ${cell.facts.image ? `${cell.facts.image.name} (${cell.facts.image.os}, kernel ${cell.facts.kernel}, glibc ${cell.facts.image.glibc}) ` : ''}${cell.facts.imageDigest} · ${cell.facts.packageManager}`)}</p>${detectorTable(cell)}`
    : '';
  const earlier = (cell.earlierAttempts ?? [])
    .map((a) => `<p class="expired">Attempt ${a.attempt}: ${a.verdict}: ${escape(a.reason)}${[...a.consoleLogs, ...a.attachments].map((f) => ` · <code>${escape(f)}</code>`).join('')}</p>`)
    .join('');
  return `<h3>${escape(cell.id)} — ${cell.verdict}${cell.flaky ? ` (flaky: ${cell.attempts} attempts)` : ''}</h3><p>${escape(cell.reason)}</p>${earlier}${cell.knownIssues.map((i) => `<p>Known issue ${escape(i.id)}: ${escape(i.reason)} — <a href="${escape(i.tracker)}">${escape(i.tracker)}</a></p>`).join('')}${cell.expiredKnownIssues.map((i) => `<p class="expired">Expired known issue ${escape(i.id)} (${escape(i.expires)}): <a href="${escape(i.tracker)}">${escape(i.tracker)}</a></p>`).join('')}<p>Rerun: <code>${escape(cell.repro)}</code></p>${facts}${steps}${attachments}${logs.join('')}`;
}

/** The detection oracle of the cell's CPU: each detector's answer and the level it means, disagreements marked. */
function detectorTable(cell: CellResult): string {
  const readings = cell.facts?.detectors ?? [];
  if (readings.length === 0) return '';
  const rows = readings.map((r) => {
    const off = r.level !== null && r.level !== cell.level;
    return `<tr${off ? ' class="off"' : ''}><td>${escape(r.detector)}</td><td>${escape(r.level ?? '—')}</td><td><code>${escape(r.answer)}</code>${r.note ? ` <span class="facts">${escape(r.note)}</span>` : ''}</td></tr>`;
  });
  return `<table class="detectors"><caption>Detectors on ${escape(cell.target)} (meets ${escape(cell.level)})</caption><tr><th>detector</th><th>level</th><th>answer</th></tr>${rows.join('')}</table>`;
}

/** Up to this many cells, every group opens with the page (today's grid of the catalog); beyond, groups open when clicked or searched. */
export const OPEN_GROUPS_UP_TO = 300;

/** JSON inside a <script> element: nothing in it may close the element or open a comment. */
const scriptJson = (value: unknown): string => JSON.stringify(value).replace(/<(\/|!--)/g, '\\u003c$1');

export async function buildHtml(run: RunResult): Promise<string> {
  const model = reportModel(run.cells);
  const { tails, index } = await consoleTails(run.cells);
  const details = run.cells.map((cell) => cellDetails(cell, index));
  const counts = Object.entries(run.counts)
    .map(([v, n]) => `<span class="count" style="background:${COLOURS[v]}">${n} ${v}</span>`)
    .concat(run.flaky > 0 ? [`<span class="count" style="background:${COLOURS.xpass}" title="settled by a retry after an emulator error">${run.flaky} flaky</span>`] : [])
    .join(' ');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>levelgate report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.4em;vertical-align:top;text-align:left}
th .title{font-weight:normal;color:#57606a;font-size:12px;max-width:22em}
details.group{margin:.3em 0}details.group>summary{cursor:pointer;padding:.3em .2em;font-size:15px}details.group .rows{margin:.3em 0 1em 1.2em}
button.b{color:#fff;border:0;border-radius:4px;padding:.1em .5em;margin:.1em .1em .1em 0;cursor:pointer;font:inherit;display:inline-block}
button.show{font:inherit;cursor:pointer}
tr.detail>td{background:#f6f8fa}.panel{padding:.2em .6em;max-width:70em}
.panel summary{color:#1f2328;background:#eaeef2;border-radius:4px;padding:.1em .5em;cursor:pointer;display:inline-block}
pre{background:#fff;border:1px solid #d0d7de;padding:.4em;overflow:auto;max-height:24em;font-size:12px}
.cmd{font-family:monospace;margin-top:.4em}.st{color:#57606a}
li.ok{color:#1f883d}li.ko{color:#cf222e;font-weight:bold}li.xf{color:#9a6700}li.sk{color:#6e7781}.expired{color:#bc4c00;font-weight:bold}.count{color:#fff;border-radius:4px;padding:.1em .5em}
.facts{color:#57606a;font-size:12px}.sigill{background:#fff8c5;border-left:3px solid #bf8700;padding:2px 6px;font-family:monospace;font-size:12px}table.detectors{font-size:12px;margin:4px 0}table.detectors td,table.detectors th{padding:1px 6px;text-align:left}table.detectors tr.off td{background:#ffebe9}.none{color:#8c959f}
.filter{margin:1em 0;display:flex;gap:1em;align-items:center}#lg-q{font:inherit;padding:.3em .5em;width:32em}#lg-shown{color:#57606a}
</style></head><body>
<h1>levelgate${run.shard ? ` — shard ${escape(run.shard)}` : ''}${run.interrupted ? ' — interrupted' : ''}</h1>
<p>${escape(run.startedAt)} on ${escape(run.hostname)} · ${(run.durationMs / 1000).toFixed(0)} s · ${run.workers} workers · image ${escape(run.image)} · fixtures ${escape(run.fixtures)}</p>
<p>${counts}</p>
${run.expiredKnownIssues.map((i) => `<p class="expired">Expired known issue ${escape(i.id)} (expired ${escape(i.expires)}; it no longer excuses any cell): <a href="${escape(i.tracker)}">${escape(i.tracker)}</a> — ${escape(i.reason)}</p>`).join('\n')}
${(run.idleKnownIssues ?? []).map((i) => `<p class="expired">Known issue ${escape(i.id)} explained nothing in this run (narrow or remove it): <a href="${escape(i.tracker)}">${escape(i.tracker)}</a> — ${escape(i.reason)}</p>`).join('\n')}
${run.unavailableLevels.map((u) => `<p class="expired">Level ${escape(u.level)} was not provided: ${escape(u.reason)}</p>`).join('\n')}
${(run.slowerBackends ?? []).map((s) => `<p class="expired">${escape(slowerBackendLine(s))}</p>`).join('\n')}
<div class="filter"><input id="lg-q" type="search" placeholder="filter: name, scenario, level, driver, verdict, reason" aria-label="filter"><label><input id="lg-attention" type="checkbox"> only rows that need attention (fail, xpass, error)</label><span id="lg-shown"></span></div>
<noscript><p class="expired">This report draws its grid with its own script: enable JavaScript, or read gate.json and junit.xml.</p></noscript>
<div id="lg-groups"></div>
<script type="application/json" id="lg-model">${scriptJson(model)}</script>
<script>${clientScript(COLOURS, run.cells.length <= OPEN_GROUPS_UP_TO)}</script>
<script type="application/json" id="lg-details">${scriptJson(details)}</script>
<script type="application/json" id="lg-logs">${scriptJson(tails)}</script>
</body></html>
`;
}

export function htmlReporter(file: string): Reporter {
  return {
    name: 'html',
    async onEnd(run) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, await buildHtml(run));
      return file;
    },
  };
}
