// Benchmark: the static audit of the same ELF files by two builds (another checkout's dist
// and this one), alternated run by run so both see the same host load; per run the seconds
// (wall and CPU) and MB of code per second of each, then the medians. One thread, no workers.
// CPU seconds are what a busy host distorts least (a run waiting for a core is not charged).
// Usage: node dist/bench/audit-ab.js --base /path/to/other/checkout [--runs 3] FILE...
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { FileAudit } from '../harness/audit/types.js';
import { auditFile } from '../harness/audit/audit-file.js';
import { median } from './median.js';

const { values, positionals } = parseArgs({ options: { base: { type: 'string' }, runs: { type: 'string', default: '3' } }, allowPositionals: true });
if (!values.base || !positionals.length) {
  console.error('usage: node dist/bench/audit-ab.js --base CHECKOUT [--runs N] FILE...  (CHECKOUT built: its dist/harness/audit/audit-file.js)');
  process.exit(2);
}
const other = (await import(pathToFileURL(path.join(values.base, 'dist/harness/audit/audit-file.js')).href)) as { auditFile: (file: string) => FileAudit };
const builds: [string, (file: string) => FileAudit][] = [
  ['base', other.auditFile],
  ['this', auditFile],
];
const seconds = new Map<string, number[]>(builds.map(([name]) => [name, []]));
const cpuSeconds = new Map<string, number[]>(builds.map(([name]) => [name, []]));
let megabytes = 0;
for (let run = 0; run < Number(values.runs); run++) {
  for (const [name, audit] of builds) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    let bytes = 0;
    for (const file of positionals) bytes += audit(file).codeBytes;
    const s = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const c = (used.user + used.system) / 1e6;
    megabytes = bytes / 1e6;
    seconds.get(name)!.push(s);
    cpuSeconds.get(name)!.push(c);
    const load = (await readFile('/proc/loadavg', 'utf8')).split(' ')[0];
    console.log(`${name} run ${run + 1}: ${s.toFixed(1)} s, ${(megabytes / s).toFixed(2)} MB/s, CPU ${c.toFixed(1)} s (${megabytes.toFixed(1)} MB of code), load ${load}`);
  }
}
for (const [name, list] of seconds) console.log(`${name}: median ${median(list).toFixed(1)} s, ${(megabytes / median(list)).toFixed(2)} MB/s, CPU median ${median(cpuSeconds.get(name)!).toFixed(1)} s over ${list.length} runs`);
