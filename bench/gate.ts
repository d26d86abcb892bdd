// Benchmark: the default gate as a user runs it, timed from outside. A configuration is
// CACHE-WORKERS-LEVELS[-cold-boot]: cold gives it an empty LEVELGATE_CACHE (image,
// fixtures, probes and snapshots made first); LEVELS is v1v3 (the 79 QEMU cells) or all
// (with v4 under Bochs where QEMU cannot provide it).
// Usage: npm run bench:gate [-- --configs warm-2-v1v3,warm-2-all,cold-2-all,warm-2-v1v3-cold-boot]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { RunResult } from '../harness/results/types.js';

const CLI = fileURLToPath(new URL('../runners/cli.js', import.meta.url));
const { values } = parseArgs({ options: { configs: { type: 'string', default: 'warm-2-v1v3,warm-2-all,cold-2-all' } } });
const rows: string[] = [];
for (const config of values.configs.split(',')) {
  const [cache, workers, levels, ...rest] = config.split('-') as ['cold' | 'warm', string, 'v1v3' | 'all', ...string[]];
  const coldBoot = rest.join('-') === 'cold-boot';
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-gate-'));
  const env: Record<string, string> = cache === 'cold' ? { LEVELGATE_CACHE: path.join(scratch, 'cache') } : {};
  const json = path.join(scratch, 'gate.json');
  const levelArgs = levels === 'v1v3' ? ['--level', 'v1', '--level', 'v2', '--level', 'v3'] : [];
  const started = performance.now();
  const result = await execa(
    'node',
    [CLI, 'gate', '--workers', workers, ...levelArgs, ...(coldBoot ? ['--cold-boot'] : []), '--json', json, '--junit', path.join(scratch, 'junit.xml'), '--html', path.join(scratch, 'r.html'), '--evidence', path.join(scratch, 'ev')],
    { env, reject: false, stdout: 'ignore', stderr: 'inherit' },
  );
  const wall = (performance.now() - started) / 1000;
  const run = JSON.parse(await readFile(json, 'utf8')) as RunResult;
  const c = run.counts;
  rows.push(
    `| ${cache} | ${workers} | ${levels === 'v1v3' ? 'v1–v3' : 'v1–v4'} | ${coldBoot ? 'cold boots' : 'snapshots'} | ${(wall / 60).toFixed(1)} min | ${(run.durationMs / 60000).toFixed(1)} min | ${run.cells.length} | ${c.pass} / ${c.fail} / ${c.xfail} / ${c.xpass} / ${c.skip} / ${c.error} | ${result.exitCode} |`,
  );
  process.stderr.write(`${rows.at(-1)}\n`);
  await rm(scratch, { recursive: true, force: true });
}
process.stdout.write(
  [
    `Machine: ${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end. One run per configuration.`,
    '',
    '| cache | workers | levels | cells start from | wall time (setup + cells) | running cells | cells | pass / fail / xfail / xpass / skip / error | exit |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
