// Benchmark: the whole default gate, cold (an empty cache: image, fixtures and probes
// built first) and warm, with 1 and 2 workers. Each configuration runs `levelgate gate`
// as a user would and is timed from outside.
// Usage: npm run bench:gate [-- --configs warm-2,warm-1,cold-2,cold-1]
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { RunResult } from '../harness/results/types.js';

const CLI = fileURLToPath(new URL('../runners/cli.js', import.meta.url));
const { values } = parseArgs({ options: { configs: { type: 'string', default: 'warm-2,warm-1,cold-2,cold-1' } } });
const rows: string[] = [];
for (const config of values.configs.split(',')) {
  const [cache, workers] = config.split('-') as ['cold' | 'warm', string];
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-gate-'));
  const env: Record<string, string> = cache === 'cold' ? { LEVELGATE_CACHE: path.join(scratch, 'cache') } : {};
  const json = path.join(scratch, 'gate.json');
  const started = performance.now();
  const result = await execa('node', [CLI, 'gate', '--workers', workers, '--json', json, '--junit', path.join(scratch, 'junit.xml'), '--html', path.join(scratch, 'r.html'), '--evidence', path.join(scratch, 'ev')], {
    env,
    reject: false,
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const wall = (performance.now() - started) / 1000;
  const run = JSON.parse(await readFile(json, 'utf8')) as RunResult;
  const c = run.counts;
  rows.push(
    `| ${cache} | ${workers} | ${(wall / 60).toFixed(1)} min | ${(run.durationMs / 60000).toFixed(1)} min | ${run.cells.length} | ${c.pass} / ${c.fail} / ${c.xfail} / ${c.xpass} / ${c.skip} / ${c.error} | ${result.exitCode} |`,
  );
  process.stderr.write(`${rows.at(-1)}\n`);
  await rm(scratch, { recursive: true, force: true });
}
process.stdout.write(
  [
    `Machine: ${os.availableParallelism()} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB. One run per configuration.`,
    '',
    '| cache | workers | wall time (setup + cells) | running cells | cells | pass / fail / xfail / xpass / skip / error | exit |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
