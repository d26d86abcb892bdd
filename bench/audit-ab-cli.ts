// Benchmark: `levelgate audit` of the same inputs (a guest image, say) by two builds' CLIs
// (another checkout's dist and this one), alternated run by run so both see the same host
// load; per run the seconds and MB/s of each and the load, then the medians; and every run's
// JSON report compared with the first one's, timings left out: the two builds must agree.
// Usage: node dist/bench/audit-ab-cli.js --base CHECKOUT [--runs 3] [--jobs 2] INPUT...
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import type { AuditRun } from '../harness/audit/types.js';
import { median } from './median.js';

const { values, positionals } = parseArgs({ options: { base: { type: 'string' }, runs: { type: 'string', default: '3' }, jobs: { type: 'string', default: '2' }, 'reports-may-differ': { type: 'boolean', default: false } }, allowPositionals: true });
if (!values.base || !positionals.length) {
  console.error('usage: node dist/bench/audit-ab-cli.js --base CHECKOUT [--runs N] [--jobs N] [--reports-may-differ] INPUT...  (CHECKOUT built: its dist/runners/cli.js)');
  process.exit(2);
}
const builds: [string, string][] = [
  ['base', path.join(values.base, 'dist/runners/cli.js')],
  ['this', fileURLToPath(new URL('../runners/cli.js', import.meta.url))],
];
/** The report without what differs from run to run (times, dates, scratch paths). */
const comparable = (run: AuditRun): string => JSON.stringify(run.packages, (key, value: unknown) => (key === 'milliseconds' ? undefined : value));
const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-audit-ab-'));
const TIME = '/usr/bin/time';
const timed = await access(TIME).then(
  () => true,
  () => false,
);
const seconds = new Map<string, number[]>(builds.map(([name]) => [name, []]));
const cpu = new Map<string, number[]>(builds.map(([name]) => [name, []]));
const ratios: number[] = [];
const reference = new Map<string, string>();
let megabytes = 0;
let differ = 0;
try {
  for (let run = 0; run < Number(values.runs); run++) {
    for (const [name, cli] of builds) {
      const json = path.join(scratch, `${name}-${run}.json`);
      const times = path.join(scratch, `${name}-${run}.time`);
      const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
      const command = ['node', cli, 'audit', '--jobs', values.jobs!, '--json', json, ...positionals];
      const started = performance.now();
      const result = timed ? await execa(TIME, ['-f', '%U %S', '-o', times, ...command], { reject: false, all: true }) : await execa(command[0]!, command.slice(1), { reject: false, all: true });
      const s = (performance.now() - started) / 1000;
      if (result.exitCode !== 0 && result.exitCode !== 1) throw new Error(`${name}: levelgate audit exited ${result.exitCode}: ${(result.all ?? '').split('\n').slice(-5).join('\n')}`);
      const [user, system] = timed ? (await readFile(times, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number) : [NaN, NaN];
      const report = JSON.parse(await readFile(json, 'utf8')) as AuditRun;
      megabytes = report.totals.codeBytes / 1e6;
      const same = comparable(report);
      // Each build against its own first report; without --reports-may-differ, against the base's.
      const key = values['reports-may-differ'] ? name : 'any';
      if (!reference.has(key)) reference.set(key, same);
      const agrees = same === reference.get(key);
      if (!agrees) differ++;
      seconds.get(name)!.push(s);
      cpu.get(name)!.push(user!);
      if (name === 'this') ratios.push(s / seconds.get('base')![run]!);
      console.log(
        `${name} run ${run + 1}: ${s.toFixed(1)} s, ${(megabytes / s).toFixed(2)} MB/s (${megabytes.toFixed(1)} MB of code), user CPU ${user!.toFixed(1)} s, system ${system!.toFixed(1)} s, exit ${result.exitCode}, ${report.totals.findings} findings, ${report.totals.suspects} suspects, load at start ${load}${name === 'this' ? `, this/base ${ratios.at(-1)!.toFixed(2)}` : ''}${agrees ? '' : ', REPORT DIFFERS'}`,
      );
    }
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}
for (const [name, list] of seconds) console.log(`${name}: median ${median(list).toFixed(1)} s, ${(megabytes / median(list)).toFixed(2)} MB/s, user CPU median ${median(cpu.get(name)!).toFixed(1)} s over ${list.length} runs`);
console.log(`this/base per pair: ${ratios.map((r) => r.toFixed(2)).join(', ')}; median ${median(ratios).toFixed(2)}`);
console.log(differ ? `${differ} reports differ from the first one${values['reports-may-differ'] ? ' of the same build' : ''}` : `every report the same (timings left out${values['reports-may-differ'] ? ', each build with itself' : ''})`);
process.exitCode = differ ? 1 : 0;
