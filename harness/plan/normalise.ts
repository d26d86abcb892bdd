// The spellings a person may write for levels, CPU targets and drivers, turned into the
// names the engine uses, once: flags and configuration fields go through the same
// functions, and anything not understood is a problem naming where it was written.
import { LEVEL_NAMES, parseLevelName, type LevelName } from '../levels/table.js';
import { ALL_NEAR_MISSES, parseTargetName } from '../levels/targets.js';
import { DRIVER_NAMES, type DriverName } from '../model/package-manager.js';

/** A driver as typed: its name in any case, with or without surrounding blanks. */
export function parseDriverName(value: string): DriverName | undefined {
  const v = value.trim().toLowerCase();
  return (DRIVER_NAMES as readonly string[]).includes(v) ? (v as DriverName) : undefined;
}

export const KNOWN_LEVELS = `known: ${LEVEL_NAMES.join(', ')} (also spelled x86-64-v3, x86_64_v3)`;
export const KNOWN_TARGETS = `known: levels ${LEVEL_NAMES.join(', ')} (also spelled x86-64-v3, x86_64_v3); near misses ${ALL_NEAR_MISSES.map((t) => t.name).join(', ')}`;
export const KNOWN_DRIVERS = `known: ${DRIVER_NAMES.join(', ')}`;

export interface Normalised<T> {
  readonly values: T[];
  /** One line per entry not understood: "FIELD[i]: 'x' is not ...". */
  readonly problems: string[];
}

function normaliseList<T>(value: unknown, field: string, parse: (v: string) => T | undefined, what: string, known: string): Normalised<T> {
  if (value === undefined) return { values: [], problems: [] };
  if (!Array.isArray(value)) return { values: [], problems: [`${field} must be a list, not ${JSON.stringify(value)}`] };
  const values: T[] = [];
  const problems: string[] = [];
  value.forEach((entry: unknown, i) => {
    const parsed = typeof entry === 'string' ? parse(entry) : undefined;
    if (parsed === undefined) problems.push(`${field}[${i}]: ${typeof entry === 'string' ? `'${entry}'` : JSON.stringify(entry)} is not ${what}; ${known}`);
    else if (!values.includes(parsed)) values.push(parsed);
  });
  return { values, problems };
}

/** Levels v1-v4 in any spelling ("x86-64-v3", "X86_64_V3", "v3"), duplicates dropped. */
export const normaliseLevels = (value: unknown, field: string): Normalised<LevelName> => normaliseList(value, field, parseLevelName, 'a level', KNOWN_LEVELS);

/** CPU targets: levels in any spelling or near-miss names, as their canonical names ("v3", "v3-fma"). */
export const normaliseTargets = (value: unknown, field: string): Normalised<string> => normaliseList(value, field, (v) => parseTargetName(v)?.name, 'a level or a near miss', KNOWN_TARGETS);

export const normaliseDrivers = (value: unknown, field: string): Normalised<DriverName> => normaliseList(value, field, parseDriverName, 'a driver', KNOWN_DRIVERS);
