// Dispatches a plan: cells run under a worker budget, each within its own time limit;
// an emulator error (guest death, boot timeout, lost agent) is retried, and the cell
// marked flaky when a retry settles it, every attempt's evidence kept; nothing else is
// retried. Ctrl-C stops dispatching, stops the running guests and still produces a
// result in which the cells that did not run are listed as such.
import os from 'node:os';
import PQueue from 'p-queue';
import { longestFirst } from '../plan/order.js';
import { cellRef, targetsOf, type Cell } from '../plan/plan.js';
import type { ReporterSet } from '../report/reporter.js';
import { formatSeconds } from '../util/log.js';
import type { AttemptRecord, CellResult, RunResult } from '../results/types.js';
import { countFlaky, countVerdicts, expiredIssuesOf, idleIssuesOf } from '../results/summary.js';
import { reproCommand, runCell, type CellEnvironment } from './cell.js';

export interface GateRunOptions {
  readonly cells: readonly Cell[];
  readonly workers: number;
  readonly environment: Omit<CellEnvironment, 'signal' | 'hooks'>;
  readonly reporters: ReporterSet;
  /** Run-wide: Ctrl-C. */
  readonly signal: AbortSignal;
  /** Extra attempts after an emulator error. */
  readonly retries: number;
  readonly shard?: string;
  /** Identifies the run's inputs in reports. */
  readonly imageDigest: string;
  readonly fixturesDigest: string;
}

function notRun(cell: Cell, reason: string, accel?: string): CellResult {
  return {
    ...cellRef(cell),
    verdict: 'skip',
    reason,
    knownIssues: [],
    expiredKnownIssues: [],
    proofs: [],
    steps: [],
    consoleLogs: [],
    attachments: [],
    timings: { totalMs: 0, bootMs: 0, packageManagerMs: 0, programMs: 0, harnessMs: 0 },
    repro: reproCommand(cell, accel),
    attempts: 0,
    flaky: false,
  };
}

export interface AttemptLimits {
  readonly cellTimeoutMs: number;
  readonly retries: number;
  /** Run-wide: an interrupted run is not retried. */
  readonly signal: AbortSignal;
}

/**
 * Runs `attempt` within the cell's time limit; an emulator error is retried up to
 * `retries` times, and a cell a retry settles is flaky. Anything else (a failure, the
 * harness's error, the cell's own time limit) is the verdict of that attempt. `attempt`
 * receives the signal that ends it, a callback naming where it is (for the time-limit
 * message) and its number (for its evidence directory).
 */
export async function runWithRetries(
  attempt: (signal: AbortSignal, at: (where: string) => void, n: number) => Promise<CellResult>,
  limits: AttemptLimits,
): Promise<CellResult> {
  const earlier: AttemptRecord[] = [];
  for (let n = 1; ; n++) {
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(new Error('cell time limit')), limits.cellTimeoutMs);
    let where = '';
    let result = await attempt(AbortSignal.any([limits.signal, limit.signal]), (w) => (where = w), n);
    clearTimeout(timer);
    if (limit.signal.aborted && !limits.signal.aborted) {
      const { errorSource: _, ...rest } = result;
      result = { ...rest, verdict: 'error', reason: `cell did not finish within ${formatSeconds(limits.cellTimeoutMs)}${where ? `; it was at ${where}` : ''}` };
    }
    if (result.verdict === 'error' && result.errorSource === 'emulator' && !limits.signal.aborted && n <= limits.retries) {
      earlier.push({ attempt: n, verdict: result.verdict, reason: result.reason, consoleLogs: result.consoleLogs, attachments: result.attachments });
      continue;
    }
    const flaky = n > 1 && result.verdict !== 'error';
    return { ...result, attempts: n, flaky, ...(earlier.length ? { earlierAttempts: earlier } : {}) };
  }
}

/** How much slower than QEMU TCG the backend that runs `cell` is (1 where none does). */
function slowdownOf(cell: Cell, options: GateRunOptions): number {
  const placed = options.environment.placement.at(cell.target.name);
  return placed.accel ? placed.backend.slowdown : 1;
}

function runWithLimits(cell: Cell, options: GateRunOptions): Promise<CellResult> {
  const placed = options.environment.placement.at(cell.target.name);
  const cellTimeoutMs = placed.accel ? placed.limits.cellMs : options.environment.placement.unplacedCellMs();
  return runWithRetries(
    (signal, at, attempt) =>
      runCell(cell, {
        ...options.environment,
        signal,
        attempt,
        hooks: {
          onStepStart: (_, index, title) => at(`step ${index} (${title})`),
          onStepEnd: (c, step) => options.reporters.onStepEnd(cellRef(c), step),
        },
      }),
    { ...options, cellTimeoutMs },
  );
}

export async function runGate(options: GateRunOptions): Promise<RunResult> {
  const startedAt = new Date();
  const started = performance.now();
  const results = new Map<string, CellResult>();
  options.reporters.onBegin({ cells: options.cells.map(cellRef), workers: options.workers, ...(options.shard ? { shard: options.shard } : {}) });
  const queue = new PQueue({ concurrency: options.workers });
  // Ctrl-C: drop what has not started (those add() promises never settle, so nothing
  // awaits them) and let the running cells tear their guests down.
  const stop = () => queue.clear();
  options.signal.addEventListener('abort', stop, { once: true });
  // The longest cells start first, so the run does not end with one of them alone; reports keep the plan's order.
  for (const cell of longestFirst(options.cells, (c) => slowdownOf(c, options))) {
    void queue.add(async () => {
      if (options.signal.aborted) return;
      options.reporters.onCellBegin(cellRef(cell));
      let result = await runWithLimits(cell, options);
      if (options.signal.aborted && result.verdict === 'error') result = { ...result, verdict: 'skip', reason: 'interrupted while it ran' };
      results.set(cell.id, result);
      options.reporters.onCellEnd(result);
    });
  }
  await queue.onIdle();
  options.signal.removeEventListener('abort', stop);
  const interrupted = options.signal.aborted;
  const cells = options.cells.map((cell) => results.get(cell.id) ?? notRun(cell, 'not run: the run was interrupted', options.environment.accelRequest));
  return {
    tool: 'levelgate',
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - started),
    interrupted,
    hostname: os.hostname(),
    image: options.imageDigest,
    fixtures: options.fixturesDigest,
    ...(options.shard ? { shard: options.shard } : {}),
    workers: options.workers,
    counts: countVerdicts(cells),
    flaky: countFlaky(cells),
    expiredKnownIssues: expiredIssuesOf(cells),
    idleKnownIssues: idleIssuesOf(cells),
    unavailableLevels: unavailableLevels(options),
    slowerBackends: slowerBackends(options),
    cells,
  };
}

/** The CPU targets that run under a slower backend because a faster one's probe did not answer definitively. */
function slowerBackends(options: GateRunOptions): { level: string; backend: string; reason: string }[] {
  return targetsOf(options.cells).flatMap(({ name }) => {
    const choice = options.environment.placement.at(name);
    return choice.accel !== null && choice.fallback ? [{ level: name, backend: choice.backend.title, reason: choice.fallback }] : [];
  });
}

/** The CPU targets (levels, near misses) the plan asks for that this host cannot provide, with why. */
function unavailableLevels(options: GateRunOptions): { level: string; reason: string }[] {
  return targetsOf(options.cells).flatMap(({ name }) => {
    const choice = options.environment.placement.at(name);
    return choice.accel === null ? [{ level: name, reason: choice.skipReason }] : [];
  });
}
