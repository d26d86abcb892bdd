// audit --run bisect's dispatch: level by level, lowest first, one guest restored from
// that level's snapshot serves every subject still to place (a second one only for a
// second RPM of the same name, or after a guest failure); a subject that ran cleanly is
// not run again above. v4 (Bochs on most hosts) is reached only by what did not run at
// v3. With near misses, each near miss of a subject's lowest level is one more guest.
import { Placer } from '../accel/placement.js';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BACKENDS } from '../accel/backends.js';
import type { AccelChoice } from '../accel/choose.js';
import type { LevelName } from '../levels/table.js';
import { exactTarget, type CpuTarget } from '../levels/targets.js';
import type { CellSession } from '../run/session.js';
import { errorMessage, InterruptedError } from '../util/errors.js';
import { silentLog } from '../util/log.js';
import { batches, type BisectSubject } from '../audit/dynamic/bisect-plan.js';
import { lowestRun } from '../audit/dynamic/bisect-reconcile.js';
import { installPackage, runProgram, type RunGuest } from './in-guest.js';
import { openSession, type RunPackagesOptions } from './run-packages.js';
import type { LevelAttempt, ProgramRunRecord, RunTrap } from '../audit/dynamic/types.js';

/** What audit --run gives its packages' runs (guests, accelerators, the disk, limits), and the levels to try. */
export interface BisectRunOptions extends Omit<RunPackagesOptions, 'onRun' | 'accel'> {
  /** The accelerator for a CPU, asked when a subject first needs that CPU (a probe may boot a guest). */
  readonly accel: (target: CpuTarget) => Promise<AccelChoice>;
  readonly levels: readonly LevelName[];
  /** The near misses to try, in order; each runs the subjects whose lowest level it is a near miss of. */
  readonly nearMisses: readonly CpuTarget[];
}

/** Every subject's attempts, and what the run cost. */
export interface BisectRun {
  /** By subject (index in the input), its attempts lowest level first, then its near misses. */
  readonly attempts: readonly LevelAttempt[][];
  readonly nearMisses: readonly LevelAttempt[][];
  /** Guests restored (or booted) per CPU target. */
  readonly restores: Readonly<Record<string, number>>;
  /** Wall time per CPU target, in ms: restores, installs, the commands and their forensics (not the accelerator probe). */
  readonly targetMs: Readonly<Record<string, number>>;
}

/** How a subject's commands ended on one CPU. */
export function outcomeOf(programs: readonly ProgramRunRecord[], traps: readonly RunTrap[]): LevelAttempt['outcome'] {
  if (traps.length || programs.some((p) => p.signal === 'SIGILL')) return 'sigill';
  if (programs.some((p) => p.signal !== null || p.timedOut || p.spawnFailed)) return 'failed';
  if (programs.some((p) => p.exitCode !== 0)) return 'exit';
  return 'ran';
}

/** The lowest attempt that ran; undefined when none did. */

export async function runBisect(subjects: readonly BisectSubject[], options: BisectRunOptions): Promise<BisectRun> {
  const attempts: LevelAttempt[][] = subjects.map(() => []);
  const nearMisses: LevelAttempt[][] = subjects.map(() => []);
  const restores: Record<string, number> = {};
  const targetMs: Record<string, number> = {};
  const index = new Map(subjects.map((s, i) => [s, i]));
  for (const level of options.levels) {
    const pending = subjects.filter((s) => !lowestRun(attempts[index.get(s)!]!));
    if (pending.length === 0) break;
    const results = await runAt(exactTarget(level), pending, options, restores, targetMs);
    for (const [s, a] of results) attempts[index.get(s)!]!.push(a);
  }
  for (const target of options.nearMisses) {
    const at = subjects.filter((s) => lowestRun(attempts[index.get(s)!]!)?.level === target.nearMiss?.of);
    if (at.length === 0) continue;
    const results = await runAt(target, at, options, restores, targetMs);
    for (const [s, a] of results) nearMisses[index.get(s)!]!.push(a);
  }
  return { attempts, nearMisses, restores, targetMs };
}

/** Every subject of `subjects` on one CPU: a guest per batch, another after a guest failure. */
async function runAt(target: CpuTarget, subjects: readonly BisectSubject[], options: BisectRunOptions, restores: Record<string, number>, targetMs: Record<string, number>): Promise<Map<BisectSubject, LevelAttempt>> {
  const log = options.log ?? silentLog;
  const out = new Map<BisectSubject, LevelAttempt>();
  const base = { target: target.name, level: target.level };
  // Timed after the choice: a probe that boots a guest (KVM that cannot run one, Bochs) is the host's cost, not the bisection's.
  const choice = await options.accel(target);
  const started = performance.now();
  if (choice.accel === null) {
    for (const s of subjects) out.set(s, { ...base, outcome: 'not-run', programs: [], traps: [], problem: `not run: ${choice.skipReason}`, infrastructure: true });
    return out;
  }
  const accel = choice.accel;
  const placer = new Placer({ choose: () => choice, backends: BACKENDS, stretch: 1 });
  const resolved = placer.limits(accel);
  const limits = { installMs: resolved.commandMs, commandMs: resolved.programMs };
  for (const batch of batches(subjects)) {
    let todo = [...batch];
    // A guest that fails is restored again for the rest, at most twice per batch.
    for (let tries = 0; todo.length && tries < 3; tries++) {
      options.signal?.throwIfAborted();
      restores[target.name] = (restores[target.name] ?? 0) + 1;
      const scratch = path.join(options.scratch, `${target.name}-${restores[target.name]}`);
      await mkdir(scratch, { recursive: true });
      let session: CellSession | undefined;
      try {
        session = await openSession(options, target, accel, placer, scratch);
        const guest = await session.start(target.level);
        const facts = { accel, fidelity: guest.fidelity };
        const installed = await installAll(guest, todo, options, limits.installMs);
        while (todo.length) {
          const s = todo[0]!;
          const problem = s.rpm ? installed.get(s.rpm.file) : undefined;
          if (problem) out.set(s, { ...base, ...facts, outcome: 'not-run', programs: [], traps: [], problem });
          else {
            const traps: RunTrap[] = [];
            const programs: ProgramRunRecord[] = [];
            for (const argv of s.commands) programs.push(await runProgram(guest, argv, limits.commandMs, traps));
            out.set(s, { ...base, ...facts, outcome: outcomeOf(programs, traps), programs, traps });
            log(`audit --run bisect: ${s.path} at ${target.name}: ${out.get(s)!.outcome}`);
          }
          todo = todo.slice(1);
        }
      } catch (error) {
        if (error instanceof InterruptedError || options.signal?.aborted) throw error;
        // The guest failed, not the subject: the subject it was running is marked, the rest get a new guest.
        const s = todo[0];
        if (s) out.set(s, { ...base, accel, outcome: 'not-run', programs: [], traps: [], problem: `the guest failed: ${errorMessage(error)}`, infrastructure: true });
        todo = todo.slice(1);
      } finally {
        await session?.dispose().catch(() => {});
      }
    }
  }
  targetMs[target.name] = (targetMs[target.name] ?? 0) + Math.round(performance.now() - started);
  return out;
}

/** Installs each RPM of the batch once; the problem of each that rpm refused, by host file. */
async function installAll(guest: RunGuest, subjects: readonly BisectSubject[], options: BisectRunOptions, installMs: number): Promise<Map<string, string>> {
  const problems = new Map<string, string>();
  for (const file of new Set(subjects.flatMap((s) => s.rpm?.file ?? []))) {
    const done = await installPackage(guest, options.guestPath(file), installMs, []);
    if (done.problem) problems.set(file, done.problem);
  }
  return problems;
}
