// The audit as one self-contained HTML page (no script, no external resource, like the
// gate's report): a row per package coloured by verdict, opening onto its files — what
// each needs with and without a CPU check, the features with example instructions.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { levelLabel } from './features.js';
import { fails, unresolvedText } from './findings.js';
import { bisectTranscript } from './dynamic/bisect-text.js';
import { findingText, needsText, runTranscript } from './report-text.js';
import type { AuditRun, FeatureUse, FileAudit, PackageAudit } from './types.js';

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const COLOURS = { pass: '#1f883d', finding: '#cf222e', suspect: '#9a6700', error: '#bc4c00' } as const;

function featureRows(features: readonly FeatureUse[]): string {
  return features
    .map((f) => `<tr><td>${escape(f.feature)}</td><td>${f.level ?? '—'}</td><td class="n">${f.count}</td><td>${f.examples.map((e) => `<code>${escape(e.address)}: ${escape(e.text)}</code>`).join('<br>')}</td></tr>`)
    .join('');
}

function fileSection(f: FileAudit): string {
  if (f.status !== 'audited') return `<h4>${escape(f.path)}</h4><p class="${f.status}">${escape(f.status)}: ${escape(f.reason ?? '')}</p>`;
  const conditional = (f.conditional?.functions ?? []).filter((c) => c.level && c.level !== 'v1').slice(0, 20);
  const unconditional = f.unconditional?.functions.slice(0, 10) ?? [];
  return `<h4>${escape(f.path)}</h4>
<p>${f.bits}-bit, ${f.codeBytes} bytes of code, boundaries from ${escape(f.boundaries ?? '')}${f.loaderLevel ? `, in glibc-hwcaps/${levelLabel(f.loaderLevel)}` : ''}</p>
<ul><li>all code: <b>${escape(needsText(f.all))}</b></li><li>without a CPU check: <b>${escape(needsText(f.unconditional))}</b></li><li>only after a CPU check: <b>${escape(f.conditional?.instructions ? needsText(f.conditional) : '(none)')}</b></li>${f.unresolved ? `<li>cannot place (unresolved): <b>${escape(f.unresolved.instructions ? `${needsText(f.unresolved)}: ${unresolvedText(f)}` : '(none)')}</b></li>` : ''}</ul>
<details><summary class="plain">features without a CPU check</summary><table><tr><th>feature</th><th>level</th><th>instructions</th><th>first examples</th></tr>${featureRows(f.unconditional?.features ?? [])}</table></details>
<details><summary class="plain">features after a CPU check</summary><table><tr><th>feature</th><th>level</th><th>instructions</th><th>first examples</th></tr>${featureRows(f.conditional?.features ?? [])}</table></details>
${f.cpuChecks?.length ? `<p>Checks the CPU: ${escape(f.cpuChecks.slice(0, 5).join('; '))}</p>` : ''}
${conditional.length ? `<p>Conditional functions:</p><ul>${conditional.map((c) => `<li><code>${escape(c.name)}</code> (${c.level}): ${escape(c.detail)}</li>`).join('')}</ul>` : ''}
${unconditional.length ? `<p>Unconditional functions above v1:</p><ul>${unconditional.map((u) => `<li><code>${escape(u.name)}</code> at ${u.address}: ${u.level}</li>`).join('')}</ul>` : ''}
${(f.notes ?? []).map((n) => `<p class="note">${escape(n)}</p>`).join('')}`;
}

function packageRow(p: PackageAudit): string {
  const audited = p.files.filter((f) => f.status === 'audited');
  const top = (pick: (f: FileAudit) => string | undefined) => audited.map(pick).filter(Boolean).sort().at(-1) ?? '—';
  const first = p.findings.find(fails) ?? p.findings[0];
  const reason = p.problem ?? (first ? findingText(first) : undefined) ?? p.files.find((f) => f.status === 'error')?.reason ?? '';
  return `<tr><td><details><summary style="background:${COLOURS[p.verdict]}">${p.verdict}</summary><div class="panel">
${p.problem ? `<p class="error">${escape(p.problem)}</p>` : ''}${p.findings.map((f) => `<p class="${fails(f) ? 'finding' : 'suspect'}">${escape(findingText(f))}</p><pre>${escape(f.examples.slice(0, 6).map((e) => `${e.address}: ${e.text}   (${e.feature})`).join('\n'))}</pre>`).join('')}
${p.run ? `<pre class="run">${escape(runTranscript(p.run).join('\n'))}</pre>` : ''}${p.bisect?.length ? `<pre class="run">${escape(p.bisect.flatMap(bisectTranscript).join('\n'))}</pre>` : ''}
${p.files.map(fileSection).join('')}${p.otherFiles ? `<p>${p.otherFiles} other files are not ELF.</p>` : ''}</div></details></td>
<td>${escape(p.id)}</td><td>${escape(p.arch ?? '—')}${p.allowed ? ` → ${p.allowed}` : ''}</td><td>${audited.length}</td><td>${top((f) => f.unconditional?.level)}</td><td>${top((f) => f.all?.level)}</td><td class="why">${escape(reason)}</td></tr>`;
}

export function buildAuditHtml(run: AuditRun): string {
  const t = run.totals;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>levelgate audit</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1f2328}
table{border-collapse:collapse}th,td{border:1px solid #d0d7de;padding:.3em .5em;vertical-align:top;text-align:left}
summary{color:#fff;border-radius:4px;padding:.1em .5em;cursor:pointer;list-style:none;display:inline-block}
summary.plain{color:#0969da;background:none;padding:0}
.panel{border:1px solid #d0d7de;padding:.5em 1em;max-width:80em;background:#f6f8fa}
.n{text-align:right}.why{max-width:40em;font-size:12px;color:#57606a}
.finding{color:#cf222e;font-weight:bold}.suspect{color:#9a6700;font-weight:bold}.error{color:#bc4c00;font-weight:bold}.note{color:#57606a}
code,pre{font-size:12px}
</style></head><body>
<h1>levelgate audit</h1>
<p>${t.packages} packages, ${t.elfFiles} ELF files, ${(t.codeBytes / 1e6).toFixed(1)} MB of code in ${(run.durationMs / 1000).toFixed(1)} s (${t.mbPerSecond} MB/s, ${run.jobs} workers) —
<b style="color:${COLOURS.finding}">${t.findings} with findings</b>, <b style="color:${COLOURS.suspect}">${t.suspects} only suspected</b>, <b style="color:${COLOURS.error}">${t.errors} not auditable</b>${run.run ? ` — run at ${escape(run.run)}` : ''}${run.interrupted ? ' — <b>interrupted</b>' : ''}.
Started ${escape(run.startedAt)}; inputs: ${run.inputs.map((i) => `<code>${escape(i)}</code>`).join(', ')}.</p>
<p>“Without a CPU check”: code the rules do not place behind one (glibc-hwcaps directories, IFUNC candidates, variant names, functions reached only from code that checks the CPU); see docs/audit.md.
A finding is <b>sure</b> when its file checks the CPU nowhere, and only <b>suspected</b> when it does somewhere (a dispatch the rules do not know may guard the code); running the package (<code>audit --run</code>) confirms a finding with the SIGILL's forensics, or does not reproduce it.</p>
${run.notes.map((n) => `<p class="note">${escape(n)}</p>`).join('')}
<table><tr><th>verdict</th><th>package</th><th>arch → allowed</th><th>ELF files</th><th>without a check</th><th>all code</th><th>why</th></tr>
${[...run.packages].sort((a, b) => order(a) - order(b) || a.id.localeCompare(b.id)).map(packageRow).join('\n')}
</table></body></html>
`;
}

const order = (p: PackageAudit): number => ({ finding: 0, error: 1, suspect: 2, pass: 3 })[p.verdict];

export async function writeAuditHtml(run: AuditRun, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, buildAuditHtml(run));
}
