// Which reporters a run writes to: built-in ones by name, a project's own modules
// (loaded as the configuration is, TypeScript included) with their options; the
// configuration's `reporters` list, replaced by --reporter, and the report paths of
// --json/--junit/--html. Every problem names the field or flag.
import path from 'node:path';
import { DEFAULTS } from '../model/defaults.js';
import { htmlReporter } from '../report/html.js';
import { jsonReporter } from '../report/json.js';
import { junitReporter } from '../report/junit.js';
import type { Reporter, ReporterOptions, ReporterSpec } from '../report/reporter.js';
import { terminalOptions, terminalReporter } from '../report/terminal.js';
import { UsageError } from '../util/errors.js';
import type { LegacyReportPaths, LevelgateConfig } from './config.js';
import { moduleLoader } from './load.js';

const FILE_REPORTERS = { json: jsonReporter, junit: junitReporter, html: htmlReporter } as const;
type FileReporter = keyof typeof FILE_REPORTERS;
export const BUILTIN_REPORTERS = ['terminal', 'json', 'junit', 'html'] as const;
const HOOKS = ['onBegin', 'onCellBegin', 'onStepEnd', 'onCellEnd', 'onEnd'] as const;

export interface ReporterRequest {
  /** The directory paths in the configuration are relative to (its file's). */
  readonly base: string;
  /** The working directory: paths of flags are relative to it. */
  readonly cwd: string;
  /** --reporter NAME|PATH, repeatable: these replace the configuration's list. */
  readonly flags?: readonly string[];
  /** --json/--junit/--html PATH: that built-in writes there, added when the list lacks it. */
  readonly outputFiles?: Readonly<Partial<Record<FileReporter, string>>>;
}

const isReporter = (value: unknown): value is Reporter =>
  typeof value === 'object' && value !== null && HOOKS.some((h) => typeof (value as Record<string, unknown>)[h] === 'function');

/** The reporter with `label` as its name when it has none, its hooks bound to it. */
function named(reporter: Reporter, label: string): Reporter {
  if (reporter.name) return reporter;
  const hooks = Object.fromEntries(HOOKS.flatMap((h) => (typeof reporter[h] === 'function' ? [[h, (reporter[h] as (...a: unknown[]) => unknown).bind(reporter)]] : [])));
  return { name: label, ...hooks } as Reporter;
}

/** A module's default export made a reporter: the object itself, or a function or class called with the options. */
async function instantiate(exported: unknown, options: ReporterOptions, label: string): Promise<Reporter> {
  let made: unknown = exported;
  if (typeof exported === 'function') {
    const isClass = /^class[\s{]/.test(Function.prototype.toString.call(exported));
    made = isClass ? new (exported as new (o: ReporterOptions) => unknown)(options) : await (exported as (o: ReporterOptions) => unknown)(options);
  }
  if (!isReporter(made)) throw new UsageError(`${label}: the default export is not a reporter: export an object with any of ${HOOKS.join(', ')}, or a function or class that returns one`);
  return named(made, label);
}

const isPath = (name: string) => name.startsWith('.') || path.isAbsolute(name) || /\.(?:m?[jt]s|c?js)$/.test(name);

/** One entry of the list: where it was written (field or flag), the directory its paths are relative to. */
async function reporterOf(spec: ReporterSpec, where: string, dir: string, request: ReporterRequest): Promise<Reporter> {
  if (typeof spec === 'object' && !Array.isArray(spec)) {
    if (!isReporter(spec)) throw new UsageError(`${where}: is not a reporter: give a name, [name, options], or an object with any of ${HOOKS.join(', ')}`);
    return named(spec as Reporter, where);
  }
  const [name, options = {}] = (typeof spec === 'string' ? [spec] : spec) as readonly [string, ReporterOptions?];
  if (typeof name !== 'string' || !name) throw new UsageError(`${where}: is not a reporter name or module path`);
  if (name === 'terminal') return terminalReporter(process.stdout, terminalOptions(options, where));
  if (name in FILE_REPORTERS) {
    const key = name as FileReporter;
    const outputFile = options.outputFile;
    if (outputFile !== undefined && typeof outputFile !== 'string') throw new UsageError(`${where}: outputFile must be a path`);
    const flag = request.outputFiles?.[key];
    return FILE_REPORTERS[key](flag ? path.resolve(request.cwd, flag) : outputFile ? path.resolve(dir, outputFile) : path.resolve(request.cwd, DEFAULTS[key]));
  }
  const load = moduleLoader(dir);
  const target = isPath(name) ? path.resolve(dir, name) : name;
  let exported: unknown;
  try {
    exported = await load(target, `the reporter ${name}`);
  } catch (error) {
    throw new UsageError(`${where}: '${name}' is neither a built-in reporter (${BUILTIN_REPORTERS.join(', ')}) nor a module that loads: ${error instanceof Error ? error.message : String(error)}`);
  }
  return instantiate(exported, options, name);
}

/** The default list, with the paths of the configuration's older `reporters: { junit, html, json }` form (false: not written). */
function defaultSpecs(paths: LegacyReportPaths | undefined): ReporterSpec[] {
  return [
    'terminal',
    ...(['json', 'junit', 'html'] as const).flatMap((key): ReporterSpec[] => (paths?.[key] === false ? [] : paths?.[key] ? [[key, { outputFile: paths[key] }]] : [key])),
  ];
}

export async function resolveReporters(config: LevelgateConfig, request: ReporterRequest): Promise<Reporter[]> {
  const fromFlags = (request.flags ?? []).length > 0;
  const configured = config.reporters;
  const specs: ReporterSpec[] = fromFlags ? [...request.flags!] : Array.isArray(configured) ? [...(configured as readonly ReporterSpec[])] : defaultSpecs(configured as LegacyReportPaths | undefined);
  const reporters: Reporter[] = [];
  for (const [i, spec] of specs.entries()) {
    reporters.push(await reporterOf(spec, fromFlags ? `--reporter ${String(spec)}` : `reporters[${i}]`, fromFlags ? request.cwd : request.base, request));
  }
  // A report path given by flag adds its reporter when the list lacks it.
  for (const [key, file] of Object.entries(request.outputFiles ?? {}) as [FileReporter, string][]) {
    if (!reporters.some((r) => r.name === key)) reporters.push(FILE_REPORTERS[key](path.resolve(request.cwd, file)));
  }
  return reporters;
}

/** Where cells' evidence goes: --evidence, else the configuration's (`evidence`, or the older reporters.evidence), else the default. */
export function evidenceDirOf(config: LevelgateConfig, base: string, flag: string | undefined, cwd: string): string {
  const configured = config.evidence ?? (Array.isArray(config.reporters) ? undefined : (config.reporters as LegacyReportPaths | undefined)?.evidence);
  return flag ? path.resolve(cwd, flag) : configured ? path.resolve(base, configured) : path.resolve(cwd, DEFAULTS.evidence);
}
