// What every subcommand shares: parsing its flags (an unknown flag or a bad value is a
// usage error naming it, exit 2), --help printing its usage, one run context (Ctrl-C),
// the temp dirs of killed runs removed (harness/host/temp-sweep.ts), and the tail that
// reports an error and maps it to an exit code.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../harness/util/errors.js';
import { EXIT_CODES } from '../harness/results/summary.js';
import { sweepOrphanTempDirs } from '../harness/host/temp-sweep.js';
import { createRunContext, exitCodeFor, reportError, type RunContext } from './run-context.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;
/** The parsed flags of a command with options O. */
export type Values<O extends Options> = Parsed<O>['values'];

export interface CommandSpec<O extends Options> {
  readonly name: string;
  readonly usage: string;
  readonly options: O;
  /** Positional arguments are taken (else one is a usage error). */
  readonly positionals?: boolean;
  /** What follows `--` is a command line of its own (exec): it is passed as the positionals, untouched; none may come before `--`. */
  readonly commandLine?: boolean;
  /** Runs the command; its return value is the exit code. Errors are reported and mapped by kind. */
  readonly run: (values: Parsed<O>['values'], positionals: string[], context: RunContext) => Promise<number>;
}

/** The command's own arguments, and the command line after `--` when it takes one. */
function split(args: string[], commandLine: boolean | undefined): { own: string[]; after: string[] | undefined } {
  const at = commandLine ? args.indexOf('--') : -1;
  return at < 0 ? { own: args, after: commandLine ? [] : undefined } : { own: args.slice(0, at), after: args.slice(at + 1) };
}

export function defineCommand<O extends Options>(spec: CommandSpec<O>): (args: string[]) => Promise<number> {
  return async (args) => {
    let parsed: Parsed<O>;
    const { own, after } = split(args, spec.commandLine);
    try {
      parsed = parseArgs({ args: own, options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }) as Parsed<O>;
      if (!spec.positionals && parsed.positionals.length > 0) throw new TypeError(`unexpected argument '${parsed.positionals[0]}'`);
    } catch (error) {
      reportError(new UsageError(`${spec.name}: ${(error as Error).message}`, { hint: `see levelgate ${spec.name} --help` }));
      return EXIT_CODES.usage;
    }
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(`${spec.usage}\n`);
      return EXIT_CODES.ok;
    }
    const context = createRunContext();
    try {
      await sweepOrphanTempDirs();
      return await spec.run(parsed.values, after ?? parsed.positionals, context);
    } catch (error) {
      reportError(error);
      return exitCodeFor(error, context);
    } finally {
      context.dispose();
    }
  };
}
