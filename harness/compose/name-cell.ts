// One name × level × driver of a compose audit as an ordinary cell result: its steps
// (with the name's own evidence), judged with the known issues that cover it as any
// cell is; an error (its batch or guest could not judge it) is its verdict instead.
import PQueue from 'p-queue';
import type { KnownIssue } from '../plan/known-issues.js';
import { issuesCovering, refOf } from '../plan/known-issues.js';
import type { LevelName } from '../levels/table.js';
import type { CellResult, StepRecord } from '../results/types.js';
import { judgeCell } from '../run/verdict.js';
import type { ComposeGuest } from './guests.js';

export interface NameCell {
  /** "variant-audit.NAME" or "compose-upgrade.NAME". */
  readonly scenario: string;
  readonly title: string;
  readonly level: LevelName;
  readonly driver: string;
  readonly steps: readonly StepRecord[];
  /** Why the name could not be judged, if it could not. */
  readonly error?: string;
  readonly guest: ComposeGuest | undefined;
  /** The name's share of the guest's time, its package-manager and program time. */
  readonly timings: { readonly totalMs: number; readonly bootMs: number; readonly packageManagerMs: number; readonly programMs: number };
  readonly repro: string;
  /** The package name judged (the scenario id spells it for ids). */
  readonly packageName: string;
  readonly pattern: string;
}

/** A scenario id's name part, as variant-audit scenarios spell it. */
export const scenarioName = (name: string): string => name.toLowerCase().replace(/[^a-z0-9._-]/g, '_');

export function nameCell(cell: NameCell, knownIssues: readonly KnownIssue[], today: string): CellResult {
  const { scenario, level, driver, guest, error } = cell;
  const { live, expired } = issuesCovering({ scenario, level, target: level, driver }, knownIssues, today);
  const judged = error ? undefined : judgeCell(cell.steps, live);
  return {
    id: `${scenario}[${level},${driver}]`,
    scenario,
    title: cell.title,
    target: level,
    level,
    driver,
    verdict: judged?.verdict ?? 'error',
    reason: judged?.reason ?? error ?? '',
    knownIssues: judged?.knownIssues ?? [],
    expiredKnownIssues: expired.map(refOf),
    coveringKnownIssues: live.map(refOf),
    ...(guest ? { accel: guest.accel } : {}),
    proofs: guest?.proofs ?? [],
    steps: judged?.steps ?? cell.steps,
    consoleLogs: guest?.consoleLogs ?? [],
    attachments: [],
    timings: { ...cell.timings, harnessMs: 0 },
    ...(guest?.facts ? { facts: { cpu: guest.facts.cpu, accel: guest.facts.accel, emulator: guest.facts.emulator, fidelity: guest.facts.fidelity, imageDigest: '', kernel: '', packageManager: driver, start: guest.facts.start, target: level } } : {}),
    repro: cell.repro,
    attempts: 1,
    flaky: false,
    ...(error ? { errorSource: 'harness' as const } : {}),
    packageName: cell.packageName,
    pattern: cell.pattern,
  };
}

/** Runs `one` for every level × driver, `workers` guests at once; the cells of all, sorted by id. */
export async function everyLevelAndDriver<D extends string>(levels: readonly LevelName[], drivers: readonly D[], workers: number, signal: AbortSignal | undefined, one: (level: LevelName, driver: D) => Promise<CellResult[]>): Promise<CellResult[]> {
  const queue = new PQueue({ concurrency: workers });
  const results: CellResult[] = [];
  await Promise.all(
    levels.flatMap((level) =>
      drivers.map((driver) =>
        queue.add(async () => {
          signal?.throwIfAborted();
          results.push(...(await one(level, driver)));
        }),
      ),
    ),
  );
  return results.sort((a, b) => a.id.localeCompare(b.id));
}
