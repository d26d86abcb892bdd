// audit --run's dispatch: each package of the plan in a guest of its own, restored from
// the snapshot of a booted, proven guest at its CPU (a fraction of a second under QEMU)
// onto a disk state of its own, so no package sees another; installed, its commands
// run, every SIGILL explained; one package after another. Guests come from the engine
// the gate's cells use (CellGuests), so tests can give the fixtures' guests.
import { Placer } from '../accel/placement.js';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BACKENDS } from '../accel/backends.js';
import type { AccelChoice } from '../accel/choose.js';
import type { Accel } from '../model/accel.js';
import type { CpuTarget } from '../levels/targets.js';
import type { CellGuests, CellSession } from '../run/session.js';
import { errorMessage, InterruptedError } from '../util/errors.js';
import { silentLog, type Log } from '../util/log.js';
import { runInGuest } from './in-guest.js';
import type { PackageRunPlan, RunPlan } from '../audit/dynamic/plan.js';
import type { PackageRun } from '../audit/dynamic/types.js';

export interface RunPackagesOptions {
  readonly guests: CellGuests;
  /** The accelerator for a CPU target, by name ("v2", "v3-fma"). */
  readonly accel: (target: string) => AccelChoice;
  /** Where the guest sees a package file of the host. */
  readonly guestPath: (file: string) => string;
  /** Disk states and console logs go below it (one directory per package). */
  readonly scratch: string;
  readonly signal?: AbortSignal;
  readonly log?: Log;
  /** Each package's run, as it ends. */
  readonly onRun?: (pkg: PackageRunPlan, run: PackageRun) => void;
}

/** Runs every package of the plan; the runs by package file. */
export async function runPackages(plan: RunPlan, options: RunPackagesOptions): Promise<Map<string, PackageRun>> {
  const runs = new Map<string, PackageRun>();
  const log = options.log ?? silentLog;
  let n = 0;
  for (const group of plan.groups) {
    const choice = options.accel(group.target.name);
    for (const pkg of group.packages) {
      options.signal?.throwIfAborted();
      const started = performance.now();
      const run =
        choice.accel === null
          ? { target: group.target.name, level: group.target.level, problem: `not run: ${choice.skipReason}`, infrastructure: true, programs: [], traps: [], durationMs: 0 }
          : await runOne(pkg, choice.accel, path.join(options.scratch, String(++n)), options);
      const done: PackageRun = { ...run, durationMs: Math.round(performance.now() - started) };
      log(`audit --run: ${pkg.id} at ${group.target.name}: ${done.problem ?? `${done.programs.length} commands, ${done.traps.length} SIGILL`} (${(done.durationMs / 1000).toFixed(1)} s)`);
      runs.set(pkg.file, done);
      options.onRun?.(pkg, done);
    }
  }
  return runs;
}

/** A guest session at `target`, every boot on `accel`, its disk state and console logs in `scratch`. */
export function openSession(options: Pick<RunPackagesOptions, 'guests' | 'signal'>, target: CpuTarget, accel: Accel, placer: Placer, scratch: string): Promise<CellSession> {
  return options.guests.open({ firstAccel: accel, target, accelAt: () => accel, bootMs: placer.bootMs(), evidenceDir: scratch, scratch, ...(options.signal ? { signal: options.signal } : {}) });
}

async function runOne(pkg: PackageRunPlan, accel: NonNullable<AccelChoice['accel']>, scratch: string, options: RunPackagesOptions): Promise<Omit<PackageRun, 'durationMs'>> {
  const placer = new Placer({ choose: options.accel, backends: BACKENDS, stretch: 1 });
  const limits = placer.limits(accel);
  const base = { target: pkg.target.name, level: pkg.target.level, accel };
  await mkdir(scratch, { recursive: true });
  let session: CellSession | undefined;
  try {
    session = await openSession(options, pkg.target, accel, placer, scratch);
    const guest = await session.start(pkg.target.level);
    const result = await runInGuest(guest, {
      guestFile: options.guestPath(pkg.file),
      commands: pkg.commands,
      installMs: limits.commandMs,
      commandMs: limits.programMs,
    });
    return {
      ...base,
      fidelity: guest.fidelity,
      ...(session.facts ? { start: session.facts.start } : {}),
      install: result.install,
      ...(result.problem ? { problem: result.problem } : {}),
      programs: result.programs,
      traps: result.traps,
    };
  } catch (error) {
    if (error instanceof InterruptedError || options.signal?.aborted) throw error;
    // The guest failed, not the package: said so, and the audit goes on.
    return { ...base, problem: `the guest failed: ${errorMessage(error)}`, infrastructure: true, programs: [], traps: [] };
  } finally {
    await session?.dispose().catch(() => {});
  }
}
