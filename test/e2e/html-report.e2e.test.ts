// The HTML report in a real browser (headless Chromium): its script draws the grid of a
// small run with every group open; at compose scale the groups stay closed until
// searched, the search finds a name, "needs attention" keeps only failing rows, and a
// linked cell opens its details with its evidence escaped.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { buildHtml } from '../../harness/report/html.js';
import { dumpDom, findChromium } from '../fixtures/chromium.js';
import { composeCells, composeRun } from '../fixtures/compose-results.js';
import { everyVerdict, runResult } from '../fixtures/results.js';

async function withReport(html: string, body: (file: string, browser: string) => Promise<void>): Promise<void> {
  const browser = await findChromium();
  if (!browser) throw new Error('no Chromium to open the report in: apt-get install -y chromium, or set LEVELGATE_CHROMIUM');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-html-'));
  try {
    const file = path.join(dir, 'report.html');
    await writeFile(file, html);
    await body(file, browser);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rowsOf = (dom: string) => [...dom.matchAll(/<tr data-r="\d+"><th>([^<]+)/g)].map((m) => m[1]);

test.serial('a small run: every group open, the grid with a badge per driver under each level', async (t) => {
  await withReport(await buildHtml(runResult(everyVerdict())), async (file, browser) => {
    const { dom } = await dumpDom(browser, file);
    t.regex(dom, /<th>scenario<\/th><th>v1<\/th><th>v2<\/th><th>v3<\/th>/);
    t.deepEqual(rowsOf(dom), ['scenario-1', 'scenario-3', 'scenario-5', 'scenario-2', 'scenario-4', 'scenario-0']);
    t.regex(dom, /<button class="b" data-c="1" style="background:#cf222e" title="[^"]*">zypper fail<\/button>/);
    t.regex(dom, /6 rows, 6 cells/);
  });
});

test.serial('a compose of 6,000 cells: groups closed, a search and "needs attention" draw only what matches, a linked cell opens its details', async (t) => {
  await withReport(await buildHtml(composeRun(composeCells({ names: 1000 }))), async (file, browser) => {
    const closed = (await dumpDom(browser, file)).dom;
    t.is(rowsOf(closed).length, 0);
    t.is((closed.match(/<details class="group" data-g="\d+">/g) ?? []).length, 6);
    t.regex(closed, /1000 rows, 6000 cells/);
    const searched = (await dumpDom(browser, file, '#q=lgc-v0001')).dom;
    // 10 and 16 are libraries (liblgc00010, liblgc00016); 17 fails, so it comes first in its group.
    t.deepEqual(rowsOf(searched).sort(), ['lgc-v00011', 'lgc-v00012', 'lgc-v00013', 'lgc-v00014', 'lgc-v00015', 'lgc-v00017', 'lgc-v00018', 'lgc-v00019']);
    const failing = (await dumpDom(browser, file, '#attention')).dom;
    t.regex(failing, /(\d+) of 1000 rows match/);
    t.true(rowsOf(failing).length > 0 && rowsOf(failing).length < 100);
    t.true(rowsOf(failing).includes('lgc-v00017'));
    const linked = (await dumpDom(browser, file, '#cell=compose.lgc-v00017%5Bv2%2Cdnf5%5D')).dom;
    t.regex(linked, /<tr class="detail" data-detail="\d+">/);
    t.regex(linked, /expected lgc-v00017-1\.3-1\.fc45\.x86_64_v2 &lt;&amp;"'&gt;/);
    t.regex(linked, /<pre data-log="\d+">\(log no longer available\)<\/pre>/);
  });
});
