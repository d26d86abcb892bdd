// What every entry point shares: one run-wide AbortController wired to SIGINT and
// SIGTERM (the first stops the run and lets teardown finish; a second exits at once),
// and the mapping from error kinds to exit codes.
import { setMaxListeners } from 'node:events';
import { EXIT_CODES } from '../harness/results/summary.js';
import { LevelgateError, errorMessage } from '../harness/util/errors.js';

export interface RunContext {
  readonly signal: AbortSignal;
  /** The signal that stopped the run, if any. */
  readonly stoppedBy: () => NodeJS.Signals | undefined;
  dispose(): void;
}

export function createRunContext(): RunContext {
  const controller = new AbortController();
  // Every guest, command and wait of the run listens to this one signal.
  setMaxListeners(0, controller.signal);
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy) {
      process.stderr.write(`levelgate: second ${signal}: exiting now\n`);
      process.exit(stoppedExitCode(signal));
    }
    stoppedBy = signal;
    process.stderr.write(`levelgate: ${signal}: stopping guests and cleaning up (again to exit at once)\n`);
    controller.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    stoppedBy: () => stoppedBy,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The exit code of a run stopped by `signal`: 130 for Ctrl-C, 143 for SIGTERM. */
export const stoppedExitCode = (signal: NodeJS.Signals): number => 128 + (signal === 'SIGINT' ? 2 : 15);

export function exitCodeFor(error: unknown, context?: RunContext): number {
  const by = context?.stoppedBy();
  if (by) return stoppedExitCode(by);
  if (!(error instanceof LevelgateError)) return EXIT_CODES.infrastructure;
  switch (error.kind) {
    case 'usage':
      return EXIT_CODES.usage;
    case 'unavailable':
      // The level cannot be provided on this host: skipped, not passed.
      return EXIT_CODES.nothingRan;
    case 'interrupted':
      return EXIT_CODES.interrupted;
    default:
      return EXIT_CODES.infrastructure;
  }
}

/** Prints an error for a person: reason first, then the hint, then the evidence. */
export function reportError(error: unknown): void {
  if (error instanceof LevelgateError) {
    const label = error.kind === 'unavailable' ? 'skipped' : 'error';
    process.stderr.write(`levelgate: ${label}: ${error.describe()}\n`);
  } else {
    process.stderr.write(`levelgate: internal error: ${error instanceof Error ? (error.stack ?? error.message) : errorMessage(error)}\n`);
  }
}
