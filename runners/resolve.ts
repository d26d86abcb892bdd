// Turns what a user typed into checked values, naming the flag on every error.
import { ACCEL_REQUESTS, type AccelRequest } from '../harness/model/accel.js';
import { REQUIRED_FIDELITIES, type RequiredFidelity } from '../harness/accel/fidelity.js';
import { LEVEL_NAMES, parseLevelName, type LevelName } from '../harness/levels/table.js';
import { ALL_NEAR_MISSES, parseTargetName, type CpuTarget } from '../harness/levels/targets.js';
import { DRIVER_NAMES, type DriverName } from '../harness/model/package-manager.js';
import { UsageError } from '../harness/util/errors.js';
import { parseDriverName } from '../harness/plan/normalise.js';
import { parseNameDir } from '../harness/config/project.js';

export function resolveLevel(value: string | undefined, flag = '--level'): LevelName {
  if (value === undefined) throw new UsageError(`${flag} is required; known levels: ${LEVEL_NAMES.join(', ')}`);
  const level = parseLevelName(value);
  if (!level) throw new UsageError(`${flag}: '${value}' is not a level; known: ${LEVEL_NAMES.join(', ')}`);
  return level;
}

/** A level or a near-miss CPU ("v3-fma": a v3 CPU without FMA). */
export function resolveTarget(value: string | undefined, flag = '--level'): CpuTarget {
  const known = `levels ${LEVEL_NAMES.join(', ')}; near misses ${ALL_NEAR_MISSES.map((t) => t.name).join(', ')}`;
  if (value === undefined) throw new UsageError(`${flag} is required; known: ${known}`);
  const target = parseTargetName(value);
  if (!target) throw new UsageError(`${flag}: '${value}' is not a level or a near miss; known: ${known}`);
  return target;
}

export function resolveAccel(value: string | undefined, flag = '--accel'): AccelRequest {
  if (value === undefined) return 'auto';
  if (!(ACCEL_REQUESTS as readonly string[]).includes(value)) {
    throw new UsageError(`${flag}: '${value}' is not an accelerator; known: ${ACCEL_REQUESTS.join(', ')}`);
  }
  return value as AccelRequest;
}

export function resolveFidelity(value: string, flag = '--require-fidelity'): RequiredFidelity {
  if (!(REQUIRED_FIDELITIES as readonly string[]).includes(value)) throw new UsageError(`${flag}: '${value}' is not a fidelity levelgate can require; known: ${REQUIRED_FIDELITIES.join(', ')}`);
  return value as RequiredFidelity;
}

export function resolveDriver(value: string, flag = '--driver'): DriverName {
  const driver = parseDriverName(value);
  if (!driver) throw new UsageError(`${flag}: '${value}' is not a driver; known: ${DRIVER_NAMES.join(', ')}`);
  return driver;
}

export function resolveSeconds(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new UsageError(`${flag}: '${value}' is not a positive number of seconds`);
  return Math.round(seconds * 1000);
}

/** A whole number of at least `min`; undefined when the flag was not given. */
export function resolveCount(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag}: '${value}' is not a whole number of at least ${min}`);
  return n;
}

/** --data NAME=DIR */
export const resolveDataDisk = (value: string, flag = '--data'): { name: string; folder: string } => parseNameDir(value, flag);
