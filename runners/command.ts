// What every subcommand shares: parsing its flags (an unknown flag or a bad value is a
// usage error naming it, exit 2), --help printing its usage, one run context (Ctrl-C),
// and the tail that reports an error and maps it to an exit code.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../harness/util/errors.js';
import { createRunContext, EXIT, exitCodeFor, reportError, type RunContext } from './run-context.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;

export interface CommandSpec<O extends Options> {
  readonly name: string;
  readonly usage: string;
  readonly options: O;
  readonly positionals?: boolean;
  /** Runs the command; its return value is the exit code. Errors are reported and mapped by kind. */
  readonly run: (values: Parsed<O>['values'], positionals: string[], context: RunContext) => Promise<number>;
}

export function defineCommand<O extends Options>(spec: CommandSpec<O>): (args: string[]) => Promise<number> {
  return async (args) => {
    let parsed: Parsed<O>;
    try {
      parsed = parseArgs({ args, options: { ...spec.options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true }) as Parsed<O>;
      if (!spec.positionals && parsed.positionals.length > 0) throw new TypeError(`unexpected argument '${parsed.positionals[0]}'`);
    } catch (error) {
      reportError(new UsageError(`${spec.name}: ${(error as Error).message}`, { hint: `see levelgate ${spec.name} --help` }));
      return EXIT.usage;
    }
    if ((parsed.values as { help?: boolean }).help) {
      process.stdout.write(`${spec.usage}\n`);
      return EXIT.ok;
    }
    const context = createRunContext();
    try {
      return await spec.run(parsed.values, parsed.positionals, context);
    } catch (error) {
      reportError(error);
      return exitCodeFor(error, context);
    } finally {
      context.dispose();
    }
  };
}
