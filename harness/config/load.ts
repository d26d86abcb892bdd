// Loads a project: its levelgate.config.ts (or .mts, .js, .mjs), the scenario and
// known-issue files it names, type-checked with the TypeScript compiler and loaded with
// jiti. Every problem names the file (and line, or field) and makes a usage error
// (exit 2) before any guest boots. Without a configuration file, the built-in catalog.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import { ACCEL_REQUESTS } from '../model/accel.js';
import { REQUIRED_FIDELITIES } from '../accel/fidelity.js';
import { validateKnownIssues, type KnownIssue } from '../plan/known-issues.js';
import type { AttachRequest } from '../repos/attach.js';
import type { Scenario } from '../scenario/types.js';
import { throwProblems, UsageError } from '../util/errors.js';
import { cacheRoot } from '../host/cache.js';
import { CONFIG_FIELDS, type LevelgateConfig, type VariantAuditConfig } from './config.js';
import { normaliseDrivers, normaliseLevels, normaliseTargets } from '../plan/normalise.js';
import { sourceLines } from './source-lines.js';
import { typeCheckCached } from './typecheck.js';
import { escapeRegExp } from '../util/regexp.js';

/** The public API module of this levelgate (dist/harness/index.js), what project files import as 'levelgate'. */
export const PUBLIC_API = fileURLToPath(new URL('../index.js', import.meta.url));

export const CONFIG_NAMES = ['levelgate.config.ts', 'levelgate.config.mts', 'levelgate.config.js', 'levelgate.config.mjs'] as const;
const SCENARIO_FILE = /\.(?:m?ts|m?js)$/;

export interface Project {
  /** The configuration file, absent when the built-in catalog runs alone. */
  readonly configFile?: string;
  readonly config: LevelgateConfig;
  /** The project's own scenarios (from its files), each with its source file. */
  readonly scenarios: readonly Scenario[];
  readonly knownIssues: readonly KnownIssue[];
  /** Repositories the configuration attaches, with where it says so. */
  readonly attach: readonly AttachRequest[];
  /** Whether the built-in catalog runs too. */
  readonly builtinCatalog: boolean;
}

/** The configuration file to use: --config, else levelgate.config.* in `cwd`, else none. */
export async function findConfig(cwd: string, explicit?: string): Promise<string | undefined> {
  if (explicit) {
    const file = path.resolve(cwd, explicit);
    if (!(await stat(file).then((s) => s.isFile(), () => false))) throw new UsageError(`--config: ${file} does not exist or is not a file`);
    return file;
  }
  for (const name of CONFIG_NAMES) {
    const file = path.join(cwd, name);
    if (await stat(file).then((s) => s.isFile(), () => false)) return file;
  }
  return undefined;
}

/** Scenario files named by the configuration: files, or every scenario file in a directory (recursively). */
async function scenarioFiles(base: string, entries: readonly string[], where: string): Promise<string[]> {
  const files: string[] = [];
  for (const [i, entry] of entries.entries()) {
    const full = path.resolve(base, entry);
    const info = await stat(full).catch(() => undefined);
    if (!info) throw new UsageError(`${where}: scenarios[${i}]: ${full} does not exist`);
    if (info.isFile()) files.push(full);
    else {
      const found = (await readdir(full, { recursive: true, withFileTypes: true })).filter((e) => e.isFile() && SCENARIO_FILE.test(e.name) && !e.name.endsWith('.d.ts'));
      if (found.length === 0) throw new UsageError(`${where}: scenarios[${i}]: ${full} holds no scenario file (.ts, .mts, .js, .mjs)`);
      files.push(...found.map((e) => path.join(e.parentPath, e.name)).sort());
    }
  }
  return files;
}

/** Where in `file` an error thrown while loading it points (its first stack frame in that file). */
function lineOf(error: unknown, file: string): string {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const m = new RegExp(`${escapeRegExp(file)}:(\\d+)(?::(\\d+))?`).exec(stack);
  return m ? `${file}:${m[1]}${m[2] ? `:${m[2]}` : ''}` : file;
}

async function importFile(jiti: ReturnType<typeof createJiti>, file: string, what: string): Promise<unknown> {
  try {
    return await jiti.import(file, { default: true });
  } catch (error) {
    throw new UsageError(`${lineOf(error, file)}: cannot load ${what}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, {
      hint: 'fix the file; `npx tsc --noEmit` in your project shows type errors too',
    });
  }
}

function isScenario(value: unknown): value is Scenario {
  const v = value as Partial<Scenario> | null;
  return typeof v === 'object' && v !== null && typeof v.id === 'string' && Array.isArray(v.steps) && Array.isArray(v.drivers) && typeof v.repos === 'object';
}

/** Checks the configuration's fields, naming each one it cannot use. */
export function validateConfig(config: unknown, where: string): string[] {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return [`${where}: the default export is not a configuration object (use export default defineConfig({ ... }))`];
  const c = config as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(c)) if (!(CONFIG_FIELDS as readonly string[]).includes(key)) problems.push(`${where}: unknown field '${key}'; known: ${CONFIG_FIELDS.join(', ')}`);
  const list = (key: string, ok: (v: string) => boolean, known: string) => {
    const v = c[key];
    if (v === undefined) return;
    if (!Array.isArray(v)) return problems.push(`${where}: ${key} must be a list`);
    v.forEach((x, i) => {
      if (typeof x !== 'string' || !ok(x)) problems.push(`${where}: ${key}[${i}]: '${String(x)}' is not ${known}`);
    });
  };
  for (const key of ['nearMisses', 'requireLevels', 'failOnFlaky', 'builtinCatalog'] as const) {
    if (c[key] !== undefined && typeof c[key] !== 'boolean') problems.push(`${where}: ${key}: '${String(c[key])}' is not true or false`);
  }
  problems.push(...normaliseTargets(c.levels, `${where}: levels`).problems, ...normaliseDrivers(c.drivers, `${where}: drivers`).problems);
  list('scenarios', (s) => s.length > 0, 'a path');
  if (c.requireFidelity !== undefined && !(REQUIRED_FIDELITIES as readonly unknown[]).includes(c.requireFidelity)) problems.push(`${where}: requireFidelity: '${String(c.requireFidelity)}' is not a fidelity levelgate can require; known: ${REQUIRED_FIDELITIES.join(', ')}`);
  if (c.accel !== undefined && !(ACCEL_REQUESTS as readonly unknown[]).includes(c.accel)) problems.push(`${where}: accel: '${String(c.accel)}' is not an accelerator; known: ${ACCEL_REQUESTS.join(', ')}`);
  for (const key of ['workers', 'retries', 'cellTimeout'] as const) {
    const v = c[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < (key === 'retries' ? 0 : 1))) problems.push(`${where}: ${key}: '${String(v)}' is not a number of at least ${key === 'retries' ? 0 : 1}`);
  }
  if (c.repos !== undefined) {
    if (typeof c.repos !== 'object' || c.repos === null || Array.isArray(c.repos)) problems.push(`${where}: repos must map names to directories, e.g. repos: { compose: '/srv/compose' }`);
    else for (const [name, dir] of Object.entries(c.repos)) if (typeof dir !== 'string') problems.push(`${where}: repos.${name}: must be a directory path`);
  }
  if (c.images !== undefined) {
    if (typeof c.images !== 'object' || c.images === null || Array.isArray(c.images)) problems.push(`${where}: images must map names to image files, e.g. images: { fedora45: 'Fedora-Cloud-Base-45.qcow2' }`);
    else
      for (const [name, file] of Object.entries(c.images)) {
        if (typeof file !== 'string' || !file) problems.push(`${where}: images.${name}: must be the path of a qcow2 or raw image`);
        if (!RUN_NAME.test(name)) problems.push(`${where}: images: '${name}' is not a usable name (letters, digits, . _ -)`);
      }
  }
  problems.push(...reporterFieldProblems(c.reporters, where));
  if (c.evidence !== undefined && (typeof c.evidence !== 'string' || !c.evidence)) problems.push(`${where}: evidence: must be a directory path`);
  if (c.name !== undefined && (typeof c.name !== 'string' || !RUN_NAME.test(c.name))) problems.push(`${where}: name: '${String(c.name)}' is not a usable name (letters, digits, . _ -)`);
  const audit = c.variantAudit;
  if (audit !== undefined && typeof audit !== 'boolean') {
    const a = audit as VariantAuditConfig;
    if (typeof audit !== 'object' || audit === null) problems.push(`${where}: variantAudit must be true, false or { repos, packages, sample, drivers }`);
    else {
      if (a.sample !== undefined && (!Number.isInteger(a.sample) || a.sample < 1)) problems.push(`${where}: variantAudit.sample: '${String(a.sample)}' is not a whole number of at least 1`);
      problems.push(...normaliseDrivers(a.drivers, `${where}: variantAudit.drivers`).problems);
    }
  }
  return problems;
}

/** A name for a run or an image: it ends cell ids (scenario[v3,dnf5]@NAME). */
export const RUN_NAME = /^[\w.-]+$/;

/** The `reporters` field: a list of names, [name, options] or reporter objects; or the older paths object. */
function reporterFieldProblems(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) {
    return value.flatMap((entry: unknown, i) => {
      const ok =
        (typeof entry === 'string' && entry.length > 0) ||
        (Array.isArray(entry) && typeof entry[0] === 'string' && entry.length <= 2 && (entry[1] === undefined || (typeof entry[1] === 'object' && entry[1] !== null && !Array.isArray(entry[1])))) ||
        (typeof entry === 'object' && entry !== null && !Array.isArray(entry));
      return ok ? [] : [`${where}: reporters[${i}]: ${JSON.stringify(entry)} is not a reporter: give a name ('junit'), a module path ('./my-reporter.ts'), or [name, { options }]`];
    });
  }
  if (typeof value !== 'object' || value === null) return [`${where}: reporters must be a list of reporters (or the older { junit, html, json, evidence })`];
  return Object.entries(value).flatMap(([key, v]) => {
    if (!['junit', 'html', 'json', 'evidence'].includes(key)) return [`${where}: reporters.${key}: unknown; known: junit, html, json, evidence (or give a list of reporters)`];
    return typeof v === 'string' || (v === false && key !== 'evidence') ? [] : [`${where}: reporters.${key}: must be a path${key === 'evidence' ? '' : ' or false'}`];
  });
}

/**
 * The configuration with its levels and drivers in the engine's names ("x86-64-v3" →
 * "v3", "DNF5" → "dnf5"), after `validateConfig` found nothing wrong: nothing
 * downstream sees a raw spelling again.
 */
export function normaliseConfig(config: LevelgateConfig): LevelgateConfig {
  const audit = config.variantAudit;
  return {
    ...config,
    ...(config.levels ? { levels: normaliseTargets(config.levels, 'levels').values } : {}),
    ...(config.drivers ? { drivers: normaliseDrivers(config.drivers, 'drivers').values } : {}),
    ...(typeof audit === 'object' && audit.drivers ? { variantAudit: { ...audit, drivers: normaliseDrivers(audit.drivers, 'variantAudit.drivers').values } } : {}),
  };
}

/** A known issue's levels and drivers in the engine's names, or the problems naming what was not understood. */
function normaliseIssue(issue: KnownIssue, at: string): { issue: KnownIssue; problems: string[] } {
  const levels = normaliseLevels(issue.levels, `${at}: levels`);
  const drivers = normaliseDrivers(issue.drivers, `${at}: drivers`);
  return {
    issue: { ...issue, ...(issue.levels ? { levels: levels.values } : {}), ...(issue.drivers ? { drivers: drivers.values } : {}) },
    problems: [...levels.problems, ...drivers.problems],
  };
}

/** A module loader like the configuration's (jiti: TypeScript and ESM, no cache), for files named relative to `base`. */
export function moduleLoader(base: string): (file: string, what: string) => Promise<unknown> {
  // 'levelgate' is this levelgate: a project needs no node_modules of its own to load, and its files share the runner's API.
  const jiti = createJiti(path.join(base, 'levelgate.config.ts'), { interopDefault: true, sourceMaps: true, moduleCache: false, alias: { levelgate: PUBLIC_API } });
  return (file, what) => importFile(jiti, file, what);
}

/**
 * Loads the project at `cwd`: the configuration at `config` (a path), or levelgate.config.*
 * there, or a configuration object given as is (paths in it relative to `cwd`).
 */
export async function loadProject(cwd: string, config?: string | LevelgateConfig): Promise<Project> {
  const given = typeof config === 'object' ? config : undefined;
  const configFile = given ? undefined : await findConfig(cwd, config as string | undefined);
  if (!configFile && !given) return { config: {}, scenarios: [], knownIssues: [], attach: [], builtinCatalog: true };
  const base = configFile ? path.dirname(configFile) : cwd;
  const where = configFile ? path.relative(cwd, configFile) || configFile : 'the configuration given to run()';
  const load = moduleLoader(base);

  // The configuration first (it names the other files), then everything type-checked together.
  const raw = given ?? (await load(configFile!, 'the configuration'));
  throwProblems(validateConfig(raw, where));
  return loadNamedFiles(normaliseConfig(raw as LevelgateConfig), { cwd, base, where, load, ...(configFile ? { configFile } : {}) });
}

interface LoadContext {
  readonly cwd: string;
  readonly base: string;
  readonly where: string;
  readonly configFile?: string;
  readonly load: (file: string, what: string) => Promise<unknown>;
}

/** The scenario and known-issue files `config` names, type-checked with it, then loaded. */
async function loadNamedFiles(config: LevelgateConfig, { cwd, base, where, configFile, load }: LoadContext): Promise<Project> {
  const files = await scenarioFiles(base, config.scenarios ?? [], where);
  const issueFiles = (config.knownIssues ?? []).filter((k): k is string => typeof k === 'string').map((f) => path.resolve(base, f));
  const typeScript = [...(configFile ? [configFile] : []), ...files, ...issueFiles].filter((f) => /\.m?ts$/.test(f));
  const typeProblems = await typeCheckCached(typeScript, { levelgate: PUBLIC_API.replace(/\.js$/, '.d.ts') }, cacheRoot());
  if (typeProblems.length) {
    const lines = typeProblems.map((p) => `${path.relative(cwd, p.file) || p.file}:${p.line}:${p.column}: ${p.message}`);
    throw new UsageError(`${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more type errors)` : ''}`, { ...(lines.length > 1 ? { details: lines.join('\n') } : {}), hint: 'the scenarios and configuration must type-check against levelgate\'s API' });
  }

  const scenarios: Scenario[] = [];
  for (const file of files) {
    const exported = await load(file, 'the scenario');
    const list = Array.isArray(exported) ? exported : [exported];
    list.forEach((s, i) => {
      if (!isScenario(s)) throw new UsageError(`${file}: the default export${Array.isArray(exported) ? `[${i}]` : ''} is not a scenario (use export default defineScenario({ ... }))`);
      scenarios.push({ ...s, source: path.relative(cwd, file) || file });
    });
  }

  // Each known issue with where it was written: its file, line and index, or the configuration's field.
  const lines = sourceLines(cwd);
  const knownIssues: KnownIssue[] = [];
  for (const [i, entry] of (config.knownIssues ?? []).entries()) {
    if (typeof entry !== 'string') {
      knownIssues.push({ ...entry, source: `${where}: knownIssues[${i}]` });
      continue;
    }
    const file = path.resolve(base, entry);
    const exported = await load(file, `knownIssues[${i}]`);
    if (!Array.isArray(exported)) throw new UsageError(`${file}: the default export is not a list of known issues (export default [defineKnownIssue({ ... })])`);
    const source = path.relative(cwd, file) || file;
    knownIssues.push(...(exported as KnownIssue[]).map((issue, j) => {
      const line = lines.entry(file, j);
      return { ...issue, source: `${source}${line ? `:${line}` : ''}: [${j}]` };
    }));
  }
  const normalised = knownIssues.map((issue) => normaliseIssue(issue, `${issue.source} (${issue.id || 'no id'})`));
  throwProblems([...normalised.flatMap((n) => n.problems), ...validateKnownIssues(knownIssues, `${where}: knownIssues`)]);

  const attach = Object.entries(config.repos ?? {}).map(([name, dir]) => ({ name, dir: path.resolve(base, dir), where: `${where}: repos.${name}` }));
  return { ...(configFile ? { configFile } : {}), config, scenarios, knownIssues: normalised.map((n) => n.issue), attach, builtinCatalog: config.builtinCatalog ?? (config.scenarios ?? []).length === 0 };
}
