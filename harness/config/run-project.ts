// A whole gate run, callable from a program as `levelgate gate` calls it: the project
// loaded and checked, the cells planned, the guests prepared (default guest or a
// distribution image), the cells dispatched under the worker budget, every reporter
// told, and the results returned with the exit code they earn.
import path from 'node:path';
import type { AccelChoice } from '../accel/choose.js';
import type { AccelRequest } from '../model/accel.js';
import { expectedFidelity, type RequiredFidelity } from '../accel/fidelity.js';
import { PooledInstallAuditor } from '../audit/install-auditor.js';
import type { LevelgateConfig } from '../config/config.js';
import { DEFAULTS } from '../model/defaults.js';
import { resolveImage, resolveProject, type ProjectFlags, type ResolvedProject } from '../config/project.js';
import { evidenceDirOf, resolveReporters } from '../config/reporters.js';
import { targetsOf, type Cell } from '../plan/plan.js';
import { selectCells, type Selection } from '../plan/selection.js';
import { ReporterSet, type ReporterSpec } from '../report/reporter.js';
import { exitCodeOf } from '../results/summary.js';
import type { RunResult } from '../results/types.js';
import type { ImageRequest } from '../run/distribution.js';
import { defaultWorkers } from '../run/budget.js';
import { hostStretch } from '../model/limits.js';
import { runGate } from '../run/gate-run.js';
import { preparedTarget, prepareRun } from '../run/prepare.js';
import { silentLog, type Log } from '../util/log.js';

export interface RunOptions extends Omit<ProjectFlags, 'config'>, Selection {
  /** The configuration file, or a configuration object; default levelgate.config.* in `cwd`, else the built-in catalog. */
  readonly config?: string | LevelgateConfig;
  /** Default: the process's working directory. */
  readonly cwd?: string;
  /** A configured image's name or an image file (--image). */
  readonly image?: string;
  readonly accel?: AccelRequest;
  readonly workers?: number;
  readonly retries?: number;
  readonly cellTimeoutMs?: number;
  readonly requireLevels?: boolean;
  /** Any cell whose guest cannot trap above its CPU is an error (--require-fidelity traps). */
  readonly requireFidelity?: RequiredFidelity;
  /** Exit 1 when a cell was flaky (--fail-on-flaky). */
  readonly failOnFlaky?: boolean;
  /** Boot every cell cold instead of restoring snapshots. */
  readonly coldBoot?: boolean;
  /** Audit every package a cell installs against its guest's level. */
  readonly audit?: boolean;
  /** Replace the configuration's reporters (names, module paths, [name, options], Reporter objects). */
  readonly reporters?: readonly ReporterSpec[];
  /** The built-in file reporters' paths (--json, --junit, --html); each adds its reporter when missing. */
  readonly outputFiles?: Readonly<Partial<Record<'json' | 'junit' | 'html', string>>>;
  readonly evidence?: string;
  /** Stops the run (Ctrl-C): running guests are torn down and the results marked interrupted. */
  readonly signal?: AbortSignal;
  /** Progress lines (default: none). */
  readonly log?: Log;
}

export interface RunOutcome {
  readonly result: RunResult;
  /** The exit code `levelgate gate` gives these results (0 pass, 1 fail, 3 error, 77 nothing verified, 130 interrupted). */
  readonly exitCode: number;
  /** The reports written, by reporter. */
  readonly reports: readonly { reporter: string; path: string }[];
  readonly evidenceDir: string;
  /** Whether a flaky cell fails the run (the option, else the configuration). */
  readonly failOnFlaky: boolean;
}

/** The run's name in cell ids: the configuration's `name`, else the gated image's. */
export function runNameOf(project: ResolvedProject, image: ImageRequest | undefined): string | undefined {
  return project.project.config.name ?? image?.name ?? (image ? path.basename(image.path).replace(/\.(qcow2|raw|img)$/i, '') : undefined);
}

/** The project, the image and the cells a run with these options plans; nothing boots. */
export async function planRun(options: RunOptions): Promise<{ resolved: ResolvedProject; image: ImageRequest | undefined; cells: Cell[] }> {
  const cwd = options.cwd ?? process.cwd();
  const resolved = await resolveProject(cwd, options);
  const image = resolveImage(options.image, resolved.project, cwd);
  const config = resolved.project.config;
  const cells = selectCells(resolved.scenarios, config, options, runNameOf(resolved, image));
  return { resolved, image, cells };
}

export async function run(options: RunOptions = {}): Promise<RunOutcome> {
  const cwd = options.cwd ?? process.cwd();
  const log = options.log ?? silentLog;
  const signal = options.signal ?? new AbortController().signal;
  const { resolved, image, cells } = await planRun(options);
  const config = resolved.project.config;
  const configDir = resolved.project.configFile ? path.dirname(resolved.project.configFile) : cwd;
  const workers = options.workers ?? config.workers ?? defaultWorkers();
  // Every limit of the run stretches by this, once (accel/placement.ts, model/limits.ts).
  const stretch = hostStretch({ workers });
  const accel = options.accel ?? config.accel ?? 'auto';
  const reporters = new ReporterSet(
    await resolveReporters(options.reporters ? { ...config, reporters: options.reporters } : config, {
      base: options.reporters ? cwd : configDir,
      cwd,
      ...(options.outputFiles ? { outputFiles: options.outputFiles } : {}),
    }),
  );
  const evidenceDir = evidenceDirOf(config, configDir, options.evidence, cwd);

  const planned = targetsOf(cells);
  // The user's cell limit (a flag, the config) is for QEMU TCG; placement gives each backend its slowdown.
  const cellMs = options.cellTimeoutMs ?? (config.cellTimeout ? config.cellTimeout * 1000 : undefined);
  const prepareOptions = { log, signal, snapshots: !options.coldBoot, attached: resolved.attached, targets: planned, stretch, ...(cellMs ? { given: { cellMs } } : {}) };
  const exactLevels = [...new Set(planned.filter((t) => !t.nearMiss).map((t) => t.level))];
  const prepared = await prepareRun(resolved.fixtureScenarios, accel, { ...prepareOptions, ...(image ? { image: { request: image, levels: exactLevels } } : {}) });
  // A near miss this image cannot run on (its init dies there) is unavailable, like one no emulator provides.
  const unusable = await prepared.guests.prepare(planned.map((target) => preparedTarget(target, prepared.placement)));
  const accelFor = (name: string): AccelChoice => {
    const why = unusable.get(name);
    return why ? { target: name, accel: null, skipReason: why } : prepared.accel(name);
  };
  // Which accelerator each CPU runs under and what it can judge there: KVM passed over where it only masks CPUID.
  for (const target of planned) {
    const choice = accelFor(target.name);
    if (choice.accel) log(`levelgate: ${target.name}: ${choice.accel}, fidelity ${expectedFidelity(choice.accel, target)} — ${choice.why}`);
  }
  const requireFidelity = options.requireFidelity ?? config.requireFidelity;
  const failOnFlaky = options.failOnFlaky ?? config.failOnFlaky ?? false;
  // --audit: the packages each cell installs, audited on the host (one worker; the cores run guests).
  const installAudit = options.audit ? new PooledInstallAuditor(1, signal) : undefined;
  const result = await runGate({
    cells,
    workers,
    environment: {
      ...prepared,
      placement: prepared.placement.choosing(accelFor),
      knownIssues: resolved.knownIssues,
      evidenceDir,
      today: new Date().toISOString().slice(0, 10),
      accelRequest: accel,
      requireLevels: options.requireLevels ?? config.requireLevels ?? false,
      ...(requireFidelity ? { requireFidelity } : {}),
      ...(installAudit ? { installAudit } : {}),
    },
    imageDigest: prepared.image.digest,
    fixturesDigest: prepared.fixtures?.digest ?? 'none',
    reporters,
    signal,
    retries: options.retries ?? config.retries ?? DEFAULTS.retries,
    ...(options.shard ? { shard: options.shard } : {}),
  }).finally(() => installAudit?.close());
  const reports = await reporters.onEnd(result);
  return { result, exitCode: result.interrupted ? 130 : exitCodeOf(result, { failOnFlaky }), reports, evidenceDir, failOnFlaky };
}
