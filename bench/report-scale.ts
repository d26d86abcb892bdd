// Benchmark: the reports of a compose audit at scale, 20,000 synthetic cells (2,500
// names × v1–v4 × dnf5, zypper): gate.json streamed (time, the largest string held,
// the growth of the process's peak RSS) against one JSON.stringify, the JUnit build,
// the HTML build, and the HTML page opening in headless Chromium (its first frame
// drawn and the whole file loaded, from navigation start, as the page measures them).
// Usage: npm run bench:report [-- --runs N --names N --screenshot FILE.png]
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildHtml } from '../harness/report/html.js';
import { gateJsonChunks, GATE_SCHEMA_VERSION, writeGateJson } from '../harness/report/json.js';
import { buildJUnit } from '../harness/report/junit.js';
import { dumpDom, findChromium, pageTimings, screenshot } from '../test/fixtures/chromium.js';
import { composeCells, composeRun } from '../test/fixtures/compose-results.js';
import { median } from './median.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, names: { type: 'string', default: '2500' }, screenshot: { type: 'string' } } });
const runs = Number(values.runs);
const run = composeRun(composeCells({ names: Number(values.names), levels: ['v1', 'v2', 'v3', 'v4'] }));
const MiB = 2 ** 20;
const peakRss = () => process.resourceUsage().maxRSS * 1024;
/** The CPU time of each timed call (user + system), beside its wall time: on a busy host the wall time mostly measures the others. */
const cpu: Record<string, number[]> = {};
const timed = async <T>(fn: () => Promise<T> | T, label = ''): Promise<[T, number]> => {
  const started = performance.now();
  const usage = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(usage);
  (cpu[label] ??= []).push((used.user + used.system) / 1000);
  return [value, performance.now() - started];
};
const cpuOf = (label: string) => `CPU ${median(cpu[label] ?? []).toFixed(0)} ms`;
const ms = (samples: number[]) => `${median(samples).toFixed(0)} ms (median of ${samples.length}; ${samples.map((s) => s.toFixed(0)).join(', ')})`;
const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-report-'));
const out: string[] = [`${run.cells.length} cells (${values.names} names × v1–v4 × dnf5, zypper)`];
try {
  // gate.json: streamed first (the peak RSS is a high-water mark), then one string.
  const before = peakRss();
  const streamed: number[] = [];
  for (let i = 0; i < runs; i++) streamed.push((await timed(() => writeGateJson(path.join(dir, 'gate.json'), run), 'stream'))[1]);
  const afterStream = peakRss();
  const largestChunk = Math.max(...[...gateJsonChunks(run)].map((c) => c.length));
  const size = (await stat(path.join(dir, 'gate.json'))).size;
  const whole: number[] = [];
  for (let i = 0; i < runs; i++) whole.push((await timed(() => writeFile(path.join(dir, 'whole.json'), `${JSON.stringify({ schemaVersion: GATE_SCHEMA_VERSION, ...run }, null, 2)}\n`), 'whole'))[1]);
  const afterWhole = peakRss();
  out.push(
    `gate.json ${(size / MiB).toFixed(1)} MiB, streamed: ${ms(streamed)}, ${cpuOf('stream')}, largest string ${(largestChunk / 1024).toFixed(1)} KiB, peak RSS +${((afterStream - before) / MiB).toFixed(0)} MiB`,
    `gate.json as one JSON.stringify (before): ${ms(whole)}, ${cpuOf('whole')}, one string of ${(size / MiB).toFixed(1)} MiB, peak RSS a further +${((afterWhole - afterStream) / MiB).toFixed(0)} MiB`,
  );
  const junit: number[] = [];
  let xml = '';
  for (let i = 0; i < runs; i++) [xml, junit[i]] = await timed(() => buildJUnit(run), 'junit');
  out.push(`JUnit (junit-report-builder): ${ms(junit)}, ${cpuOf('junit')}, ${(xml.length / MiB).toFixed(1)} MiB, ${(xml.match(/<testcase /g) ?? []).length} testcases`);
  const builds: number[] = [];
  let html = '';
  for (let i = 0; i < runs; i++) [html, builds[i]] = await timed(() => buildHtml(run), 'html');
  const file = path.join(dir, 'report.html');
  await writeFile(file, html);
  out.push(`HTML build: ${ms(builds)}, ${cpuOf('html')}, ${(html.length / MiB).toFixed(1)} MiB`);
  const browser = await findChromium();
  if (!browser) out.push('HTML in Chromium: no Chromium (apt-get install -y chromium, or LEVELGATE_CHROMIUM)');
  else {
    const opened: number[] = [];
    const loaded: number[] = [];
    const wall: number[] = [];
    for (let i = 0; i < runs; i++) {
      const { dom, wallMs } = await dumpDom(browser, file);
      const t = pageTimings(dom);
      opened.push(t.openedMs);
      loaded.push(t.loadedMs);
      wall.push(wallMs);
    }
    const searched = pageTimings((await dumpDom(browser, file, '#q=lgc-v0001')).dom).openedMs;
    out.push(`HTML in headless Chromium (${browser}): first frame drawn ${ms(opened)}; whole file loaded ${ms(loaded)}; browser process start to exit ${ms(wall)}; opened searched (#q=lgc-v0001) ${searched} ms`);
    if (values.screenshot) await screenshot(browser, file, path.resolve(values.screenshot), '#attention');
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const cpuModel = (await import('node:fs')).readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
out.push(`host: ${cpuModel}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
process.stdout.write(`${out.join('\n')}\n`);
