// npm run bench:compose -- [--packages N] [--share F (default BENCH_VARIANT_SHARE: 3,000 names at N=10,000)] [--level L]... [--driver D]... [--sample K|all] [--select-batch N] [--install-batch N] [--runs R] [--upgrade [--move-down]]
// Generates (or finds in the cache) a compose of N packages, then audits it with the
// compose audit: every multi-variant name's selection, K names installed and run, per
// level × driver, 2 guests at once. Prints where the time goes (generation steps,
// snapshot, per level × driver selection and install + run), the node process's peak
// memory and the largest sum of this run's guests' peak memory (its own QEMU/Bochs
// processes only, sampled every 2 s), as JSON on stdout. --upgrade: the release upgrade
// N → N+1 of the compose instead (each level × driver's guest restored from its release-N
// snapshot, made on first use), --move-down then the disk one level down, distro-synced.
// --verdicts FILE: every cell's id, verdict and failing deviations, one a line, sorted (to
// compare two runs' verdicts with diff). --install-batch N: names per install transaction,
// --select-batch N: names per dry run (the audit's defaults per backend: model/defaults.ts).
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ensureCompose } from '../harness/compose/generate.js';
import { BENCH_VARIANT_SHARE, DEFECT_KINDS, plantedDefects, type ComposeParams } from '../harness/compose/model.js';
import { runComposeAudit } from '../harness/compose/run.js';
import type { ComposeDriver } from '../harness/compose/selection.js';
import { ensureImage } from '../harness/image/build.js';
import type { LevelName } from '../harness/levels/table.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    packages: { type: 'string', default: '1000' },
    share: { type: 'string', default: String(BENCH_VARIANT_SHARE) },
    level: { type: 'string', multiple: true },
    driver: { type: 'string', multiple: true },
    sample: { type: 'string', default: '200' },
    runs: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    upgrade: { type: 'boolean', default: false },
    'move-down': { type: 'boolean', default: false },
    verdicts: { type: 'string' },
    'install-batch': { type: 'string' },
    'select-batch': { type: 'string' },
  },
});

const params: ComposeParams = { packages: Number(values.packages), variantShare: Number(values.share), seed: 1, defects: [...DEFECT_KINDS] };
const levels = (values.level ?? ['v1', 'v2', 'v3']) as LevelName[];
const drivers = (values.driver ?? ['dnf5', 'zypper']) as ComposeDriver[];
const log = (line: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}\n`);
const t0 = performance.now();

/** The parent of a process, from /proc/PID/stat (0 when it is gone). */
async function parentOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return Number(/\) \S+ (\d+)/.exec(stat)?.[1] ?? 0);
}

/** Whether `pid` descends from this process (other sessions' guests on the host are not ours). */
async function ours(pid: number): Promise<boolean> {
  for (let p = pid, hops = 0; p > 1 && hops < 6; hops++) {
    p = await parentOf(p);
    if (p === process.pid) return true;
  }
  return false;
}

/** Peak resident memory of this run's QEMU/Bochs processes alive now (their VmHWM), in MiB. */
async function guestPeaksMiB(): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  let total = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!/qemu-system|bochs/.test(cmd) || !(await ours(Number(pid)))) continue;
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    total += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }
  return total;
}

const image = await ensureImage({ log });
const genStarted = performance.now();
const compose = await ensureCompose(params, image, { log });
const generationS = (performance.now() - genStarted) / 1000;
const variantNames = compose.model.names.filter((n) => n.pattern !== 'plain');
const patternOf = new Map(variantNames.map((n) => [n.name, n.defect ? `defect:${n.defect}` : n.pattern]));

const durations: number[] = [];
let guestPeak = 0;
let last: Awaited<ReturnType<typeof runComposeAudit>> | undefined;
for (let i = 0; i < Number(values.runs); i++) {
  const evidenceDir = `/tmp/levelgate-bench-compose-${process.pid}`;
  const watch = setInterval(() => void guestPeaksMiB().then((m) => (guestPeak = Math.max(guestPeak, m))), 2000);
  const started = performance.now();
  try {
    last = await runComposeAudit({
      dir: compose.releases['2'],
      ...(values.upgrade ? { upgradeFrom: compose.releases['1'], moveDown: values['move-down'] } : {}),
      levels,
      drivers,
      sample: values.sample === 'all' ? 'all' : Number(values.sample),
      workers: Number(values.workers),
      ...(values['install-batch'] ? { installBatch: Number(values['install-batch']) } : {}),
      ...(values['select-batch'] ? { selectBatch: Number(values['select-batch']) } : {}),
      image: () => Promise.resolve(image),
      evidenceDir,
      patternOf: (n) => patternOf.get(n),
      log,
    });
  } finally {
    clearInterval(watch);
    await rm(evidenceDir, { recursive: true, force: true });
  }
  durations.push((performance.now() - started) / 1000);
}

if (values.verdicts) {
  const { writeFile } = await import('node:fs/promises');
  const line = (c: NonNullable<typeof last>['cells'][number]) => `${c.id} ${c.verdict} ${c.steps.flatMap((s) => s.checks.filter((k) => k.status === 'fail').map((k) => k.deviation ?? '?')).join(',')}`;
  await writeFile(values.verdicts, `${(last?.cells ?? []).map(line).sort().join('\n')}\n`);
}

/** Each error message of `cells`, its cell's name replaced by NAME, with how many cells gave it. */
function errorCounts(cells: NonNullable<typeof last>['cells']): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const c of cells) {
    if (c.verdict !== 'error') continue;
    const message = c.packageName ? c.reason.split(c.packageName).join('NAME') : c.reason;
    counts[message] = (counts[message] ?? 0) + 1;
  }
  return counts;
}

const cpu = (await readFile('/proc/cpuinfo', 'utf8')).match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown';
process.stdout.write(
  `${JSON.stringify(
    {
      params,
      compose: compose.dir,
      rpms: compose.model.releases['1'].length + compose.model.releases['2'].length,
      variantNames: variantNames.length,
      generationS: Math.round(generationS * 10) / 10,
      generationSteps: compose.buildSeconds,
      levels,
      drivers,
      sample: values.sample,
      upgrade: values.upgrade ? (values['move-down'] ? 'N → N+1, then one level down' : 'N → N+1') : false,
      auditS: durations.map((d) => Math.round(d * 10) / 10),
      auditMedianS: Math.round(median(durations) * 10) / 10,
      cells: last?.cells.length,
      counts: last?.counts,
      // Each planted defect found by name: its cells' verdicts (a defect every cell passes was missed).
      defects: Object.fromEntries(
        [...plantedDefects(compose.model)].map(([name, kind]) => {
          const verdicts = (last?.cells ?? []).filter((c) => c.packageName === name).map((c) => `${c.level}/${c.driver}:${c.verdict}`);
          return [kind, { name, found: verdicts.some((v) => !v.endsWith(':pass')), verdicts }];
        }),
      ),
      // Why cells ended in error: each message (its name replaced) with how many cells gave it.
      errors: errorCounts(last?.cells ?? []),
      nodePeakMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      guestsPeakMiB: Math.round(guestPeak),
      hostPeakMiB: Math.round(guestPeak + process.resourceUsage().maxRSS / 1024),
      cpu,
      cores: os.cpus().length,
      loadavg: os.loadavg().map((l) => Math.round(l * 10) / 10),
    },
    null,
    2,
  )}\n`,
);
