// `levelgate gate`: the scenario catalog × levels × drivers, in parallel under the
// host's budget, with a line per cell (a live status line on a terminal), JUnit, HTML
// and JSON reports, and one exit code for the whole matrix.
import path from 'node:path';
import { DEFAULTS, seconds } from '../harness/config/defaults.js';
import { planCells, targetsOf } from '../harness/plan/plan.js';
import { parseShard, shardCells } from '../harness/plan/shard.js';
import { htmlReporter } from '../harness/report/html.js';
import { jsonReporter } from '../harness/report/json.js';
import { junitReporter } from '../harness/report/junit.js';
import { ReporterSet } from '../harness/report/reporter.js';
import { terminalReporter } from '../harness/report/terminal.js';
import { exitCodeOf, EXIT_CODES } from '../harness/results/summary.js';
import { defaultWorkers, loadFactor } from '../harness/run/budget.js';
import { runGate } from '../harness/run/gate-run.js';
import { prepareRun } from '../harness/run/prepare.js';
import { prepareImageRun } from '../harness/run/prepare-image.js';
import { DRIVER_NAMES } from '../harness/scenario/types.js';
import { UsageError } from '../harness/util/errors.js';
import { stderrLog } from '../harness/util/log.js';
import { defineCommand } from './command.js';
import { resolveImage, resolveProject } from './project.js';
import { resolveAccel, resolveCount, resolveDriver, resolveSeconds, resolveTarget } from './resolve.js';
import { exitCodeFor } from './run-context.js';
import { PooledInstallAuditor } from '../harness/audit/install-auditor.js';
import type { AccelChoice } from '../harness/accel/choose.js';

export const GATE_USAGE = `usage: levelgate gate [options]

Runs every scenario for every driver at every level this host can provide, and reports
each cell as pass, fail, xfail (a live known issue explains every failing check), xpass
(a known issue explains nothing: remove it), skip (with the reason) or error
(infrastructure: the verdict could not be earned). The scenarios are the project's
(levelgate.config.ts in the current directory) or, without one, the built-in catalog.

Project:
  --config PATH        the configuration file (default: levelgate.config.{ts,mts,js,mjs} here)
  --repo NAME=DIR      attach a repository (createrepo_c's repodata/, an apt archive's dists/,
                       or a pacman NAME.db: the kind is read from it) read-only to every
                       guest at /mnt/repos/NAME, for scenarios to use as attached('NAME') (repeatable)
  --audit              audit every package a cell installs (its file in the scenario's
                       repositories, decoded on the host) against the level of the guest it
                       was installed on: code that needs more without a CPU check fails the
                       cell (a check "audit NEVRA" with the first offending instructions)
  --variant-audit      add the variant audit: for every package built in more than one arch
                       in the attached repositories (the fixture repositories without any),
                       install it at every level and check the best variant runs
  --packages LIST      audit only these package names (comma-separated)
  --sample N           audit at most N packages (every N-th name, the same in every run)
Image:
  --image NAME|PATH    gate a distribution's own cloud image (qcow2 or raw; NAME: one of the
                       configuration's images) instead of the default guest: booted at each
                       level through its own bootloader, level proven, the image's own rpm,
                       dnf5 and zypper run (drivers it lacks are skipped); see docs/images.md
Selection:
  --level LEVEL        only this level (repeatable); one CPU model per CI job. A near miss
                       (v3-fma: a v3 CPU without FMA, which meets v2) runs every scenario on it
  --near-misses        add every near-miss CPU (each level v2-v4 minus one of its features)
                       for the scenarios made for them (detection, hwcaps pattern...)
  --driver NAME        only this driver: ${DRIVER_NAMES.join(', ')} (repeatable)
  --scenario ID        only this scenario (repeatable)
  --grep TEXT          only cells whose id contains TEXT (or matches /REGEX/)
  --tag TAG            only scenarios with this tag (repeatable)
  --shard I/N          only the I-th of N deterministic slices (whole scenario×level groups)
  --require-levels     a requested level this host cannot provide is an error (exit 3),
                       not a skip: use it in CI jobs, so a missing level never reads green
Running:
  --accel ACCEL        auto (default: KVM, else QEMU TCG, else Bochs for v4), tcg, kvm or bochs
  --cold-boot          boot every cell's guest from scratch instead of restoring the
                       snapshot of a booted, proven guest (the reports say which way each started)
  --workers N          cells at once (default: one per core, as memory allows)
  --cell-timeout S     end a cell as an error after S seconds (default ${seconds(DEFAULTS.cellTimeoutMs)}, scaled by load;
                       Bochs cells get ${DEFAULTS.backends.bochs.slowdown} times as long: it interprets every instruction)
  --retries N          retry a cell after an infrastructure error (default ${DEFAULTS.retries}; shown as flaky)
Reports (paths are printed at the end):
  --junit PATH         JUnit XML (default ${DEFAULTS.junit})
  --html PATH          self-contained HTML (default ${DEFAULTS.html})
  --json PATH          one record per cell (default ${DEFAULTS.json}; levelgate merge reads it)
  --evidence DIR       console logs and reproducers per cell (default ${DEFAULTS.evidence})

Exit: 0 every cell that ran passed or is a live known issue; 1 a cell failed or a known
issue passed; 2 bad usage; 3 infrastructure (a cell errored, setup failed, a required
level is missing); 77 nothing was verified (every cell was skipped); 130/143 interrupted
(the reports are still written, marked interrupted).`;

export const gateCommand = defineCommand({
  name: 'gate',
  usage: GATE_USAGE,
  options: {
    level: { type: 'string', multiple: true },
    driver: { type: 'string', multiple: true },
    scenario: { type: 'string', multiple: true },
    grep: { type: 'string' },
    tag: { type: 'string', multiple: true },
    shard: { type: 'string' },
    'require-levels': { type: 'boolean' },
    'near-misses': { type: 'boolean', default: false },
    'cold-boot': { type: 'boolean', default: false },
    image: { type: 'string' },
    config: { type: 'string' },
    repo: { type: 'string', multiple: true },
    'variant-audit': { type: 'boolean', default: false },
    audit: { type: 'boolean', default: false },
    packages: { type: 'string' },
    sample: { type: 'string' },
    accel: { type: 'string' },
    workers: { type: 'string' },
    'cell-timeout': { type: 'string' },
    retries: { type: 'string' },
    junit: { type: 'string' },
    html: { type: 'string' },
    json: { type: 'string' },
    evidence: { type: 'string' },
  },
  run: async (values, _positionals, context) => {
    const resolved = await resolveProject(process.cwd(), {
      ...(values.config ? { config: values.config } : {}),
      ...(values.repo ? { repo: values.repo } : {}),
      variantAudit: values['variant-audit'],
      ...(values.packages ? { packages: values.packages.split(',').map((p) => p.trim()).filter(Boolean) } : {}),
      ...(values.sample !== undefined ? { sample: resolveCount(values.sample, '--sample', 1)! } : {}),
    });
    const config = resolved.project.config;
    const targets = values.level ? values.level.map((l) => resolveTarget(l)) : [];
    const levels = targets.length > 0 ? targets.map((t) => t.name) : [...(config.levels ?? [])];
    const drivers = values.driver ? values.driver.map((d) => resolveDriver(d)) : [...(config.drivers ?? [])];
    const workers = resolveCount(values.workers, '--workers', 1) ?? config.workers ?? defaultWorkers();
    const retries = resolveCount(values.retries, '--retries', 0) ?? config.retries ?? DEFAULTS.retries;
    const cellTimeoutMs = resolveSeconds(values['cell-timeout'], '--cell-timeout') ?? (config.cellTimeout ? config.cellTimeout * 1000 : DEFAULTS.cellTimeoutMs * loadFactor(workers));
    const accel = values.accel !== undefined ? resolveAccel(values.accel) : (config.accel ?? 'auto');
    const requireLevels = values['require-levels'] ?? config.requireLevels ?? false;
    const shard = values.shard ? parseShard(values.shard) : undefined;
    let cells = planCells(resolved.scenarios, {
      targets: levels,
      nearMisses: values['near-misses'] || config.nearMisses === true,
      drivers,
      ...(values.scenario ? { scenarios: values.scenario } : {}),
      ...(values.grep ? { grep: values.grep } : {}),
      ...(values.tag ? { tags: values.tag } : {}),
    });
    if (shard) cells = shardCells(cells, shard);
    if (cells.length === 0) throw new UsageError(`the filters select no cell${shard ? ` (shard ${values.shard} is empty)` : ''}`);

    const planned = targetsOf(cells);
    const image = resolveImage(values.image, resolved.project, process.cwd());
    const prepareOptions = { log: stderrLog, signal: context.signal, snapshots: !values['cold-boot'], attached: resolved.attached, targets: planned };
    const exactLevels = [...new Set(planned.filter((t) => !t.nearMiss).map((t) => t.level))];
    const prepared = image ? await prepareImageRun(resolved.fixtureScenarios, accel, image, exactLevels, prepareOptions) : await prepareRun(resolved.fixtureScenarios, accel, prepareOptions);
    // A near miss this image cannot run on (its init dies there) is unavailable, like one no emulator provides.
    const unusable = await prepared.guests.prepare(planned.map((target) => ({ target, accel: prepared.accel(target.name).accel })));
    const accelFor = (name: string): AccelChoice => {
      const why = unusable.get(name);
      return why ? { target: name, accel: null, skipReason: why } : prepared.accel(name);
    };
    // Paths in the configuration are relative to its file; flags and defaults to the working directory.
    const configDir = resolved.project.configFile ? path.dirname(resolved.project.configFile) : process.cwd();
    const reports = config.reporters ?? {};
    const fromConfig = (configured: string | undefined) => (configured === undefined ? undefined : path.resolve(configDir, configured));
    const evidenceDir = path.resolve(values.evidence ?? fromConfig(reports.evidence) ?? DEFAULTS.evidence);
    const pick = (flag: string | undefined, configured: string | false | undefined, fallback: string) => (flag ?? (configured === false ? undefined : (fromConfig(configured) ?? fallback)));
    const json = pick(values.json, reports.json, DEFAULTS.json);
    const junit = pick(values.junit, reports.junit, DEFAULTS.junit);
    const html = pick(values.html, reports.html, DEFAULTS.html);
    const reporters = new ReporterSet([
      terminalReporter(),
      ...(json ? [jsonReporter(path.resolve(json))] : []),
      ...(junit ? [junitReporter(path.resolve(junit))] : []),
      ...(html ? [htmlReporter(path.resolve(html))] : []),
    ]);
    // --audit: the packages each cell installs, audited on the host (one worker; the cores run guests).
    const installAudit = values.audit ? new PooledInstallAuditor(1, context.signal) : undefined;
    const run = await runGate({
      cells,
      workers,
      environment: {
        ...prepared,
        accel: accelFor,
        knownIssues: resolved.knownIssues,
        evidenceDir,
        today: new Date().toISOString().slice(0, 10),
        accelRequest: accel,
        timeScale: loadFactor(workers),
        requireLevels,
        ...(installAudit ? { installAudit } : {}),
      },
      imageDigest: prepared.image.digest,
      fixturesDigest: prepared.fixtures?.digest ?? 'none',
      reporters,
      signal: context.signal,
      cellTimeoutMs,
      retries,
      ...(values.shard ? { shard: values.shard } : {}),
    }).finally(() => installAudit?.close());
    const written = await reporters.onEnd(run);
    for (const { reporter, path: file } of written) process.stdout.write(`${reporter.padEnd(6)} ${file}\n`);
    process.stdout.write(`evidence ${evidenceDir}\n`);
    if (run.interrupted) return exitCodeFor(new Error('interrupted'), context);
    const code = exitCodeOf(run);
    if (code === EXIT_CODES.nothingRan) process.stderr.write('levelgate: nothing was verified: every cell was skipped (exit 77); see the reasons above\n');
    return code;
  },
});
