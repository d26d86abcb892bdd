// `levelgate gate`: the scenario catalog × levels × drivers, in parallel under the
// host's budget, with a line per cell (a live status line on a terminal), JUnit, HTML
// and JSON reports, and one exit code for the whole matrix; --list shows the plan and
// boots nothing. The run itself is the programmatic run() of the public API.
import { DEFAULTS, seconds } from '../harness/model/defaults.js';
import { EXIT_CODES } from '../harness/results/summary.js';
import { listLines, listPlan } from '../harness/config/list-plan.js';
import { run, type RunOptions } from '../harness/config/run-project.js';
import { DRIVER_NAMES } from '../harness/model/package-manager.js';
import { UsageError } from '../harness/util/errors.js';
import { stderrLog } from '../harness/util/log.js';
import { defineCommand } from './command.js';
import { resolveAccel, resolveCount, resolveDriver, resolveFidelity, resolveSeconds, resolveTarget } from './resolve.js';
import { exitCodeFor } from './run-context.js';

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
                       not a skip: use it in CI jobs, so a missing level never reads green;
                       a level whose guest cannot trap (KVM masking CPUID) is not provided
  --require-fidelity traps
                       any cell whose guest cannot trap the instructions above its CPU is an
                       error (exit 3): KVM only masks CPUID at v1, v2 and most near misses
Running:
  --accel ACCEL        auto (default: KVM where it traps, else QEMU TCG, else Bochs for v4),
                       tcg, kvm or bochs
  --cold-boot          boot every cell's guest from scratch instead of restoring the
                       snapshot of a booted, proven guest (the reports say which way each started)
  --workers N          cells at once (default: one per core, as memory allows)
  --cell-timeout S     end a cell as an error after S seconds (default ${seconds(DEFAULTS.cellTimeoutMs)}, scaled by load;
                       Bochs cells get ${DEFAULTS.backends.bochs.slowdown} times as long: it interprets every instruction)
  --retries N          retry a cell after an emulator error: guest death, boot timeout, lost agent
                       (default ${DEFAULTS.retries}; a cell a retry settles is flaky). A crash, a hang or an
                       exit outside its contract of a package manager or program is a fail, never retried
  --fail-on-flaky      exit 1 when any cell was flaky (config: failOnFlaky)
Listing:
  --list               print the cells the run would plan, in its order, with level, driver,
                       image, the accelerator that would run each (from cached probe answers,
                       else "not probed") and why a cell would be skipped; boots nothing,
                       installs nothing, builds nothing (QEMU need not be installed)
  --json               with --list: the same as JSON on stdout
Reports (paths are printed at the end):
  --reporter NAME|PATH the reporters (repeatable; replaces the configuration's reporters):
                       terminal, json, junit, html, or a module (./my-reporter.ts) whose
                       default export is a Reporter or a function returning one (docs/commands.md)
  --junit PATH         JUnit XML (default ${DEFAULTS.junit})
  --html PATH          self-contained HTML (default ${DEFAULTS.html})
  --json PATH          one record per cell (default ${DEFAULTS.json}; levelgate merge reads it);
                       with --list, no PATH: the list as JSON
  --evidence DIR       console logs and reproducers per cell (default ${DEFAULTS.evidence})

Exit: 0 every cell that ran passed or is a live known issue; 1 a cell failed or a known
issue passed (or a cell was flaky, with --fail-on-flaky); 2 bad usage; 3 infrastructure (a cell errored, setup failed, a required
level is missing); 77 nothing was verified (every cell was skipped); 130/143 interrupted
(the reports are still written, marked interrupted).`;

const gateParsed = defineCommand({
  name: 'gate',
  usage: GATE_USAGE,
  positionals: true,
  options: {
    list: { type: 'boolean', default: false },
    reporter: { type: 'string', multiple: true },
    level: { type: 'string', multiple: true },
    driver: { type: 'string', multiple: true },
    scenario: { type: 'string', multiple: true },
    grep: { type: 'string' },
    tag: { type: 'string', multiple: true },
    shard: { type: 'string' },
    'require-levels': { type: 'boolean' },
    'require-fidelity': { type: 'string' },
    'fail-on-flaky': { type: 'boolean' },
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
  run: async (values, positionals, context) => {
    if (positionals.length > 0) throw new UsageError(`gate: unexpected argument '${positionals[0]}'`, { hint: 'see levelgate gate --help' });
    // --json takes a PATH, except after --list where it asks for JSON on stdout (gateCommand spells that '-').
    const listJson = values.list === true && values.json === '-';
    if (values.list && values.json !== undefined && values.json !== '-') {
      throw new UsageError(`gate --list --json prints JSON on stdout and takes no path (got '${values.json}'); redirect it: levelgate gate --list --json > plan.json`);
    }
    const options: RunOptions = {
      ...(values.config ? { config: values.config } : {}),
      ...(values.repo ? { repo: values.repo } : {}),
      variantAudit: values['variant-audit'],
      ...(values.packages ? { packages: values.packages.split(',').map((p) => p.trim()).filter(Boolean) } : {}),
      ...(values.sample !== undefined ? { sample: resolveCount(values.sample, '--sample', 1)! } : {}),
      ...(values.level ? { levels: values.level.map((l) => resolveTarget(l).name) } : {}),
      ...(values.driver ? { drivers: values.driver.map((d) => resolveDriver(d)) } : {}),
      ...(values.scenario ? { scenarios: values.scenario } : {}),
      ...(values.grep ? { grep: values.grep } : {}),
      ...(values.tag ? { tags: values.tag } : {}),
      ...(values.shard ? { shard: values.shard } : {}),
      nearMisses: values['near-misses'],
      ...(values.image ? { image: values.image } : {}),
      ...(values.accel !== undefined ? { accel: resolveAccel(values.accel) } : {}),
      ...(values.workers !== undefined ? { workers: resolveCount(values.workers, '--workers', 1)! } : {}),
      ...(values.retries !== undefined ? { retries: resolveCount(values.retries, '--retries', 0)! } : {}),
      ...(values['cell-timeout'] !== undefined ? { cellTimeoutMs: resolveSeconds(values['cell-timeout'], '--cell-timeout')! } : {}),
      ...(values['require-levels'] !== undefined ? { requireLevels: values['require-levels'] } : {}),
      ...(values['require-fidelity'] !== undefined ? { requireFidelity: resolveFidelity(values['require-fidelity']) } : {}),
      ...(values['fail-on-flaky'] !== undefined ? { failOnFlaky: values['fail-on-flaky'] } : {}),
      coldBoot: values['cold-boot'],
      audit: values.audit,
      ...(values.reporter ? { reporters: values.reporter } : {}),
      ...(!values.list && (values.json || values.junit || values.html) ? { outputFiles: { ...(values.json ? { json: values.json } : {}), ...(values.junit ? { junit: values.junit } : {}), ...(values.html ? { html: values.html } : {}) } } : {}),
      ...(values.evidence ? { evidence: values.evidence } : {}),
      signal: context.signal,
      log: stderrLog,
    };
    if (values.list) {
      const plan = await listPlan(options);
      process.stdout.write(listJson ? `${JSON.stringify(plan, null, 2)}\n` : `${listLines(plan).join('\n')}\n`);
      return 0;
    }
    const outcome = await run(options);
    for (const { reporter, path: file } of outcome.reports) process.stdout.write(`${reporter.padEnd(6)} ${file}\n`);
    process.stdout.write(`evidence ${outcome.evidenceDir}\n`);
    if (outcome.result.interrupted) return exitCodeFor(new Error('interrupted'), context);
    const { result } = outcome;
    if (outcome.failOnFlaky && result.flaky > 0 && outcome.exitCode === EXIT_CODES.failed && result.counts.fail + result.counts.xpass === 0) {
      process.stderr.write(`levelgate: ${result.flaky} cell${result.flaky > 1 ? 's were' : ' was'} flaky (--fail-on-flaky): exit 1\n`);
    }
    if (outcome.exitCode === EXIT_CODES.nothingRan) process.stderr.write('levelgate: nothing was verified: every cell was skipped (exit 77); see the reasons above\n');
    return outcome.exitCode;
  },
});

/** `gate --list --json`: --json without a value (it takes a PATH otherwise) means stdout, spelled '-'. */
export const gateCommand = (args: string[]): Promise<number> =>
  gateParsed(args.includes('--list') ? args.map((a, i) => (a === '--json' && (i === args.length - 1 || args[i + 1]!.startsWith('-')) ? '--json=-' : a)) : args);
