// Error types that say what failed, where, and what to do next. Each has a one-line
// `message` (reason first); `details` carries the long evidence (console tail, output).

export type ErrorKind = 'usage' | 'infrastructure' | 'guest' | 'command' | 'proof' | 'unavailable' | 'interrupted';

/**
 * Where and how a failure happened, as fields (execa's makeError): a report or a retry
 * rule reads them instead of parsing the message. Each is absent when it does not apply.
 */
export interface ErrorFields {
  readonly level?: string;
  readonly scenario?: string;
  /** "3 (install lgx)": the step's number and title. */
  readonly step?: string;
  /** The escaped command line. */
  readonly command?: string;
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  readonly durationMs?: number;
}

export interface ErrorContext extends ErrorFields {
  readonly hint?: string;
  readonly details?: string;
  readonly cause?: unknown;
}

const FIELD_NAMES = ['level', 'scenario', 'step', 'command', 'exitCode', 'signal', 'durationMs'] as const satisfies readonly (keyof ErrorFields)[];

/** The fields of `context` that are set. */
export function fieldsOf(context: ErrorFields): ErrorFields {
  return Object.fromEntries(FIELD_NAMES.filter((name) => context[name] !== undefined).map((name) => [name, context[name]])) as ErrorFields;
}

export class LevelgateError extends Error implements ErrorFields {
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: string | undefined;
  declare readonly level?: string;
  declare readonly scenario?: string;
  declare readonly step?: string;
  declare readonly command?: string;
  declare readonly exitCode?: number | null;
  declare readonly signal?: string | null;
  declare readonly durationMs?: number;

  constructor(kind: ErrorKind, message: string, context: ErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.kind = kind;
    this.hint = context.hint;
    this.details = context.details;
    Object.assign(this, fieldsOf(context));
  }

  /** The fields that are set (level, step, command, exit code, signal, duration). */
  get fields(): ErrorFields {
    return fieldsOf(this);
  }

  /** The message, the hint and the evidence, for a terminal or a report. */
  describe(): string {
    return [this.message, this.hint ? `hint: ${this.hint}` : '', this.details ?? ''].filter(Boolean).join('\n');
  }
}

/** Bad input: a flag, a field or a file. Exit code 2. */
export class UsageError extends LevelgateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('usage', message, context);
  }
}

/** The host cannot do what was asked: a tool is missing, an image build failed. Exit code 3. */
export class InfrastructureError extends LevelgateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('infrastructure', message, context);
  }
}

/** A guest failed to boot, crashed, hung, or did not answer. */
export class GuestError extends LevelgateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('guest', message, context);
  }
}

/**
 * The guest's PID 1 was killed by a signal: the image's own init (a static busybox, the
 * distribution's systemd) does not run on this CPU — SIGILL for an instruction it lacks.
 */
export class InitKilledError extends GuestError {
  declare readonly signal: string;
  constructor(message: string, signal: string, context: ErrorContext = {}) {
    super(message, { ...context, signal });
  }
}

/** The guest booted but does not see the level it was pinned to. */
export class LevelProofError extends LevelgateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('proof', message, context);
  }
}

/** No accelerator on this host can provide the level: a skip, never a pass. */
export class LevelUnavailableError extends LevelgateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('unavailable', message, context);
  }
}

/** The run was stopped by a signal (Ctrl-C, SIGTERM) or an abort. */
export class InterruptedError extends LevelgateError {
  constructor(message: string, context: ErrorContext = {}) {
    super('interrupted', message, context);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Every problem found in one pass as one usage error: the first as its message, all of
 * them (one a line) as its details, so a person fixes them in one go. Nothing when none.
 */
export function throwProblems(problems: readonly string[], context: Omit<ErrorContext, 'details'> = {}): void {
  if (problems.length === 0) return;
  throw new UsageError(problems[0]!, { ...context, ...(problems.length > 1 ? { details: problems.join('\n') } : {}) });
}
