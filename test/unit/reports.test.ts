import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import test from 'ava';
import { planCells } from '../../harness/plan/plan.js';
import { parseShard, shardCells } from '../../harness/plan/shard.js';
import { buildHtml } from '../../harness/report/html.js';
import { groupOf, reportModel, urgency, type ReportModel } from '../../harness/report/html-model.js';
import { buildJUnit } from '../../harness/report/junit.js';
import { ReporterSet } from '../../harness/report/reporter.js';
import { closingLines } from '../../harness/report/terminal.js';
import { defaultWorkers } from '../../harness/run/budget.js';
import { exitCodeOf } from '../../harness/results/summary.js';
import { mergeRuns } from '../../runners/merge.js';
import { CATALOG } from '../../scenarios/index.js';
import { cellResult, everyVerdict, runResult } from '../fixtures/results.js';
import { composeCells, composeRun, PATTERNS } from '../fixtures/compose-results.js';
import { JUNIT_SCHEMA } from '../fixtures/schemas.js';


async function validate(xml: string): Promise<{ exitCode: number | undefined; output: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-junit-'));
  try {
    await writeFile(path.join(dir, 'report.xml'), xml);
    const result = await execa('xmllint', ['--noout', '--schema', JUNIT_SCHEMA, path.join(dir, 'report.xml')], { reject: false, all: true });
    return { exitCode: result.exitCode, output: result.all ?? '' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const reportKinds = {
  pass: runResult([cellResult('pass')]),
  fail: runResult([cellResult('fail')]),
  error: runResult([cellResult('error')]),
  skip: runResult([cellResult('skip', { steps: [], consoleLogs: [] })]),
  'every verdict': runResult(everyVerdict()),
  interrupted: runResult([cellResult('pass'), cellResult('skip', { id: 'other[v2,dnf5]', reason: 'not run: the run was interrupted', attempts: 0 })], { interrupted: true }),
  merged: mergeRuns([
    { file: 'a.json', run: runResult([cellResult('pass')], { shard: '1/2' }) },
    { file: 'b.json', run: runResult([cellResult('fail', { id: 'x[v2,dnf5]', level: 'v2', driver: 'dnf5' })], { shard: '2/2' }) },
  ]),
};

for (const [kind, run] of Object.entries(reportKinds)) {
  test(`JUnit for a ${kind} report is valid against junit-10.xsd`, async (t) => {
    const { exitCode, output } = await validate(buildJUnit(run));
    t.is(exitCode, 0, output);
    t.regex(output, /validates/);
  });
}

test('JUnit: a suite per level and driver, unique case names, failures carry the rerun command', (t) => {
  const xml = buildJUnit(runResult(everyVerdict()));
  t.is((xml.match(/<testsuite /g) ?? []).length, 3);
  t.regex(xml, /<testcase classname="levelgate\.v2\.zypper" name="scenario-1\[v2,zypper\]" time="8\.123">/);
  t.regex(xml, /<failure message="[^"]*— rerun: \.\/levelgate repro fresh-install-mixed --level v3 --driver zypper" type="wrong-outcome"\/>/);
  t.regex(xml, /type="unexpected-pass"/);
  t.regex(xml, /<error message="[^"]*" type="infrastructure"/);
  t.regex(xml, /\[\[PROPERTY\|fidelity=traps\]\]/);
  t.regex(xml, /\[\[ATTACHMENT\|\/reports\/evidence\/cell\/console-1-v3\.log\]\]/);
  t.false(/<testsuites[^>]* skipped=/.test(xml));
  t.regex(buildJUnit(reportKinds.interrupted), /<property name="interrupted" value="true"\/>/);
});

/** The JSON a page embeds in <script type="application/json" id=ID>. */
const embedded = <T>(html: string, id: string): T => JSON.parse(new RegExp(`<script type="application/json" id="${id}">(.*?)</script>`, 's').exec(html)![1]!) as T;

// The grid is drawn by the page's own script (test/e2e/html-report.e2e.test.ts opens it in Chromium): this checks what it is given.
test('HTML: one self-contained page, its grid and each cell\'s escaped evidence embedded as JSON', async (t) => {
  const html = await buildHtml(runResult(everyVerdict()));
  t.regex(html, /^<!doctype html>/);
  t.false(/<link|src=|https?:\/\/(?!github\.com)/.test(html));
  const model = embedded<ReportModel>(html, 'lg-model');
  t.deepEqual(model.columns, ['v1', 'v2', 'v3']);
  t.deepEqual(model.groups.map((g) => g.key), ['scenarios']);
  t.deepEqual(model.cells[1], ['scenario-1[v2,zypper]', 'fail', 'zypper', 1, everyVerdict()[1]!.reason, 0]);
  const details = embedded<string[]>(html, 'lg-details');
  t.is(details.length, 6);
  t.true(details[1]!.includes('got 1.0-1.x86_64 &#60;&#38;&#34;&#39;&#62;'));
  t.false(details.some((d) => d.includes('<&"\'>')));
  // Nothing in the embedded JSON closes its <script> element early.
  const hostile = runResult([cellResult('fail', { reason: '</script><script>alert(1)</script><!--' })]);
  const page = await buildHtml(hostile);
  t.is(embedded<ReportModel>(page, 'lg-model').cells[0]![4], '</script><script>alert(1)</script><!--');
  t.is((page.match(/<\/script>/g) ?? []).length, 4);
});

test('HTML model: a compose is grouped by pattern into rows by name; groups and rows that need attention come first', (t) => {
  const cells = composeCells({ names: 600 });
  const model = reportModel(cells);
  t.deepEqual(model.columns, ['v1', 'v2', 'v3']);
  t.is(model.cells.length, 3600);
  t.is(model.rows.length, 600);
  t.deepEqual(model.groups.map((g) => g.key).sort(), [...PATTERNS].sort());
  t.is(model.groups.reduce((n, g) => n + g.rows.length, 0), 600);
  // Every row: one name, its six cells by column then driver.
  const row = model.rows.find((r) => r.key === 'lgc-v00017')!;
  t.deepEqual(row.cells.map((c) => model.cells[c]![0]), ['v1', 'v2', 'v3'].flatMap((l) => ['dnf5', 'zypper'].map((d) => `compose.lgc-v00017[${l},${d}]`)));
  // Failures first: groups by their count of fail + xpass + error, rows by urgency.
  const attention = (g: ReportModel['groups'][number]) => g.counts.fail + g.counts.xpass + g.counts.error;
  for (let i = 1; i < model.groups.length; i++) t.true(attention(model.groups[i - 1]!) >= attention(model.groups[i]!));
  for (const group of model.groups) {
    const urgencies = group.rows.map((r) => Math.min(...model.rows[r]!.cells.map((c) => urgency(model.cells[c]![1]))));
    t.deepEqual(urgencies, [...urgencies].sort((a, b) => a - b));
    if (attention(group) > 0) t.is(urgencies[0], 0);
  }
  // The catalog: one group of scenarios, a row each with its title; a dotted id groups by its prefix.
  t.is(groupOf({ scenario: 'variant-audit.lgmixed' }), 'variant-audit');
  t.is(groupOf({ scenario: 'fresh-install-mixed' }), 'scenarios');
  t.is(groupOf({ scenario: 'compose.x', pattern: 'v3-only' }), 'v3-only');
  t.is(reportModel([cellResult('pass')]).rows[0]!.title, 'Fresh install from a mixed repository picks the highest compatible variant');
});

test('merge refuses a cell present in two inputs', (t) => {
  const run = runResult([cellResult('pass')]);
  t.throws(() => mergeRuns([{ file: 'a.json', run }, { file: 'b.json', run }]), { message: 'merge: cell fresh-install-mixed[v3,zypper] is in both a.json and b.json' });
  const merged = reportKinds.merged;
  t.is(merged.cells.length, 2);
  t.is(exitCodeOf(merged), 1);
});

test('shards are deterministic, disjoint, complete, and keep scenario×level groups whole', (t) => {
  const cells = planCells(CATALOG);
  const shards = [1, 2, 3].map((index) => shardCells(cells, { index, total: 3 }));
  t.is(shards.flat().length, cells.length);
  t.is(new Set(shards.flat().map((c) => c.id)).size, cells.length);
  t.deepEqual(shardCells(cells, { index: 2, total: 3 }).map((c) => c.id), shards[1]!.map((c) => c.id));
  for (const shard of shards) {
    for (const cell of shard) t.true(shard.filter((c) => c.scenario === cell.scenario && c.level === cell.level).length === cell.scenario.drivers.length);
  }
  t.deepEqual(parseShard('2/4'), { index: 2, total: 4 });
  t.throws(() => parseShard('5/4'), { message: "--shard: '5/4' is not a shard; use I/N with 1 <= I <= N, e.g. --shard 2/4" });
});

test('a reporter that throws is named and the others still run', async (t) => {
  const warnings: string[] = [];
  const seen: string[] = [];
  const set = new ReporterSet(
    [
      { name: 'broken', onCellEnd: () => { throw new Error('disk full'); }, onEnd: () => { throw new Error('still broken'); } },
      { name: 'good', onCellEnd: (r) => void seen.push(r.id), onEnd: () => '/tmp/good.xml' },
    ],
    (line) => warnings.push(line),
  );
  set.onCellEnd(cellResult('pass'));
  t.deepEqual(await set.onEnd(runResult([])), [{ reporter: 'good', path: '/tmp/good.xml' }]);
  t.deepEqual(seen, ['fresh-install-mixed[v3,zypper]']);
  t.deepEqual(warnings, ['levelgate: reporter broken failed in onCellEnd: disk full', 'levelgate: reporter broken failed in onEnd: still broken']);
});

test('the worker budget follows cores and memory', (t) => {
  t.is(defaultWorkers(2, 24 * 2 ** 30), 2);
  t.is(defaultWorkers(8, 4 * 2 ** 30), 2);
  t.is(defaultWorkers(4, 512 * 2 ** 20), 1);
});

test('JUnit: an expected failure is a <skipped> carrying its reason and tracker; an expired known issue is a suite property and a cell line', async (t) => {
  const expired = { id: 'old-issue', reason: 'was broken', tracker: 'https://example.invalid/old', expires: '2026-01-31' };
  const run = runResult([cellResult('xfail'), cellResult('fail', { id: 'other[v3,zypper]', expiredKnownIssues: [expired] })]);
  const xml = buildJUnit(run);
  t.regex(xml, /<skipped message="expected failure: step 2 \(install lgmixed\): installed lgmixed: [^"]*" type="known-issue https:\/\/github\.com\/rpm-software-management\/dnf5\/pull\/2591"\/>/);
  t.regex(xml, /<property name="expired-known-issue" value="old-issue \(expired 2026-01-31\) https:\/\/example\.invalid\/old"\/>/);
  t.regex(xml, /\[\[PROPERTY\|expired-known-issue=old-issue \(expired 2026-01-31\) https:\/\/example\.invalid\/old\]\]/);
  const { exitCode, output } = await validate(xml);
  t.is(exitCode, 0, output);
  const html = await buildHtml(run);
  t.regex(html, /Expired known issue old-issue \(expired 2026-01-31; it no longer excuses any cell\)/);
  t.deepEqual(run.expiredKnownIssues.map((i) => i.id), ['old-issue']);
});

test('the run summary names expired known issues and levels the host could not provide', (t) => {
  const expired = { id: 'old-issue', reason: 'was broken', tracker: 'https://example.invalid/old', expires: '2026-01-31' };
  const run = runResult([cellResult('skip', { expiredKnownIssues: [expired] })], { unavailableLevels: [{ level: 'v4', reason: 'no accelerator provides v4' }] });
  t.deepEqual(closingLines(run), [
    '1 cells in 60.0 s: 0 passed, 0 failed, 0 xfail, 0 xpass, 1 skipped, 0 errors — nothing was verified: every cell was skipped',
    'expired known issue old-issue (expired 2026-01-31; no longer excuses any cell): https://example.invalid/old — check the tool and remove or renew the entry',
    'level v4 was not provided: no accelerator provides v4',
  ]);
  t.is(exitCodeOf(run), 77);
});

test('JUnit of a compose audit: one testcase per name × level × driver, unique names, the package and pattern as properties, valid against junit-10.xsd', async (t) => {
  const run = composeRun(composeCells({ names: 1000 }));
  const xml = buildJUnit(run);
  const names = [...xml.matchAll(/<testcase classname="[^"]+" name="([^"]+)"/g)].map((m) => m[1]);
  t.is(names.length, 6000);
  t.is(new Set(names).size, 6000);
  t.is((xml.match(/<testsuite /g) ?? []).length, 6);
  t.regex(xml, /<testcase classname="levelgate\.v2\.dnf5" name="compose\.lgc-v00017\[v2,dnf5\]" time="0\.057">\s*<failure message="selection: chose lgc-v00017-1\.3-1\.fc45\.x86_64, expected lgc-v00017-1\.3-1\.fc45\.x86_64_v2 &lt;&amp;&quot;'> — rerun: /);
  t.regex(xml, /\[\[PROPERTY\|package=lgc-v00017\]\]\n\[\[PROPERTY\|pattern=mislabelled-v3\]\]/);
  const { exitCode, output } = await validate(xml);
  t.is(exitCode, 0, output);
});
