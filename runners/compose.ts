// `levelgate compose DIR`: the compose audit (harness/compose/run.ts) from the command
// line, with its JUnit, HTML and JSON reports and gate's exit codes.
import path from 'node:path';
import { DEFAULTS } from '../harness/model/defaults.js';
import { loadProject } from '../harness/config/load.js';
import { COMPOSE_DRIVERS, type ComposeDriver } from '../harness/compose/selection.js';
import { runComposeAudit } from '../harness/compose/run.js';
import { ensureImage } from '../harness/image/build.js';
import { LEVEL_NAMES, type LevelName } from '../harness/levels/table.js';
import { htmlReporter } from '../harness/report/html.js';
import { jsonReporter } from '../harness/report/json.js';
import { junitReporter } from '../harness/report/junit.js';
import { exitCodeOf, summaryLine } from '../harness/results/summary.js';
import { parseShard } from '../harness/plan/shard.js';
import { UsageError } from '../harness/util/errors.js';
import { stderrLog } from '../harness/util/log.js';
import { defineCommand } from './command.js';
import { resolveCount, resolveLevel } from './resolve.js';

export const COMPOSE_USAGE = `usage: levelgate compose DIR [options]

Audits a compose (DIR: a createrepo_c repository) at every level for every driver in
one guest per level and driver: every package built in more than one arch, or shipping
glibc-hwcaps copies, is resolved by the package manager at the pinned CPU in batched
dry runs, and its chosen build compared with the best variant the metadata offers; a
sample of them (stratified by variant pattern) is installed in batches and every
program run and every library loaded by the dynamic loader, SIGILLs explained. A batch
the tool refuses is split until the culprit stands alone. Each name × level × driver is
one testcase with its own evidence, as gate --variant-audit reports it, and known
issues match it the same way (scenario variant-audit.NAME).

Options:
  --level LEVEL        only this level (repeatable; default v1, v2, v3)
  --driver NAME        only this driver: ${COMPOSE_DRIVERS.join(', ')} (repeatable; default both)
  --packages LIST      audit only these names (comma-separated; each must be in DIR)
  --sample K|all       install and run K names, stratified by pattern (default 200), or all
  --batch N            names per dry run (default ${DEFAULTS.composeSelectBatch.dnf5.tcg}; dnf5 under Bochs, v4: ${DEFAULTS.composeSelectBatch.dnf5.bochs})
  --install-batch N    names per install (default ${DEFAULTS.composeInstallBatch})
  --workers N          guests at once (default 2)
  --shard I/N          audit the I-th of N slices of the names, whole names dealt in code-unit
                       order (the sample is drawn from all names first); levelgate merge joins
                       the shards' gate.json into the verdicts of one run
  --upgrade-from DIR   instead: the release upgrade from DIR (release N) to the compose (N+1):
                       per level and driver a release-N system (every audited name installed
                       from N with that driver, 20 a batch, a refused batch a name at a time)
                       is made once and kept as a snapshot keyed by both repositories' contents;
                       each run restores it, upgrades (dnf5 distro-sync, zypper dist-upgrade,
                       only N+1 enabled) and judges every package installed from N: the best
                       variant of N+1, nothing stale, the audited names' programs run
                       (testcases compose-upgrade.NAME[level,driver])
  --move-down          with --upgrade-from: then boot the disk one level down, distro-sync,
                       judge again at that level
  --config PATH        the project configuration whose known issues apply
  --junit PATH         JUnit XML (default ${DEFAULTS.junit})
  --html PATH          self-contained HTML (default ${DEFAULTS.html})
  --json PATH          one record per name × level × driver (default ${DEFAULTS.json})
  --evidence DIR       console logs per guest (default ${DEFAULTS.evidence})

Each guest's memory is sized from DIR's metadata (768 MiB + 3 × primary and filelists
uncompressed, at least 1024 MiB), stated first; fewer guests run at once if the host's
free memory holds fewer.

Exit: 0 every name passed or is a live known issue; 1 a name failed; 2 bad usage (DIR
without repository metadata, a name not in it, a compose whose guest does not fit this
host's memory); 3 a name could not be judged.`;

export const composeCommand = defineCommand({
  name: 'compose',
  usage: COMPOSE_USAGE,
  positionals: true,
  options: {
    level: { type: 'string', multiple: true },
    driver: { type: 'string', multiple: true },
    packages: { type: 'string' },
    sample: { type: 'string' },
    batch: { type: 'string' },
    'install-batch': { type: 'string' },
    workers: { type: 'string' },
    shard: { type: 'string' },
    config: { type: 'string' },
    junit: { type: 'string' },
    html: { type: 'string' },
    json: { type: 'string' },
    evidence: { type: 'string' },
    'upgrade-from': { type: 'string' },
    'move-down': { type: 'boolean', default: false },
  },
  run: async (values, positionals, context) => {
    if (positionals.length !== 1) throw new UsageError(`compose: give one compose directory (got ${positionals.length})`, { hint: 'levelgate compose /srv/compose/x86_64/os' });
    if (values['move-down'] && !values['upgrade-from']) throw new UsageError('--move-down moves an upgraded disk: it needs --upgrade-from DIR');
    const levels: LevelName[] = values.level ? values.level.map((l) => resolveLevel(l)) : LEVEL_NAMES.filter((l) => l !== 'v4');
    const drivers = (values.driver ?? [...COMPOSE_DRIVERS]).map((d): ComposeDriver => {
      if (!(COMPOSE_DRIVERS as readonly string[]).includes(d)) throw new UsageError(`--driver: '${d}' is not a compose audit driver; known: ${COMPOSE_DRIVERS.join(', ')}`);
      return d as ComposeDriver;
    });
    const sample = values.sample === undefined ? undefined : values.sample === 'all' ? ('all' as const) : resolveCount(values.sample, '--sample', 1)!;
    const project = await loadProject(process.cwd(), values.config);
    const run = await runComposeAudit({
      dir: positionals[0]!,
      levels,
      drivers,
      ...(values.packages ? { packages: values.packages.split(',').map((p) => p.trim()).filter(Boolean) } : {}),
      ...(sample !== undefined ? { sample } : {}),
      ...(values.batch ? { selectBatch: resolveCount(values.batch, '--batch', 1)! } : {}),
      ...(values['install-batch'] ? { installBatch: resolveCount(values['install-batch'], '--install-batch', 1)! } : {}),
      ...(values.workers ? { workers: resolveCount(values.workers, '--workers', 1)! } : {}),
      ...(values['upgrade-from'] ? { upgradeFrom: values['upgrade-from'] } : {}),
      ...(values.shard ? { shard: parseShard(values.shard) } : {}),
      moveDown: values['move-down'],
      image: () => ensureImage({ log: stderrLog, signal: context.signal }),
      knownIssues: project.knownIssues,
      evidenceDir: path.resolve(values.evidence ?? DEFAULTS.evidence),
      log: stderrLog,
      signal: context.signal,
    });
    const reports = [jsonReporter(values.json ?? DEFAULTS.json), junitReporter(values.junit ?? DEFAULTS.junit), htmlReporter(values.html ?? DEFAULTS.html)];
    for (const reporter of reports) {
      const file = await reporter.onEnd?.(run);
      if (file) process.stdout.write(`${(reporter.name ?? '').padEnd(6)} ${file}\n`);
    }
    process.stderr.write(`${summaryLine(run)}\n`);
    return exitCodeOf(run);
  },
});
