// The whole run as JSON: one record per cell (scenario, level, driver, verdict, reason
// and the evidence), for other tools and for `levelgate merge`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { countFlaky } from '../results/summary.js';
import type { CellResult, RunResult } from '../results/types.js';
import { UsageError } from '../util/errors.js';
import type { Reporter } from './reporter.js';

/**
 * The version of gate.json's layout, "MAJOR.MINOR": a reader refuses another major
 * (fields it would misread), and takes any minor (fields added). Files written before
 * the field existed read as 1.0.
 */
export const GATE_SCHEMA_VERSION = '1.0';
const READS_MAJOR = 1;

export function jsonReporter(file: string): Reporter {
  return {
    name: 'json',
    async onEnd(run) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify({ schemaVersion: GATE_SCHEMA_VERSION, ...run }, null, 2)}\n`);
      return file;
    },
  };
}

/** Why a file's schemaVersion cannot be read by this levelgate, if it cannot. */
export function schemaProblem(version: unknown, file: string): string | undefined {
  if (version === undefined) return undefined;
  const m = typeof version === 'string' ? /^(\d+)\.(\d+)$/.exec(version) : null;
  if (!m) return `${file}: schemaVersion ${JSON.stringify(version)} is not MAJOR.MINOR`;
  const major = Number(m[1]);
  if (major === READS_MAJOR) return undefined;
  return `${file}: gate.json schema version ${version} is not one this levelgate reads (${READS_MAJOR}.x, it writes ${GATE_SCHEMA_VERSION}): ${major > READS_MAJOR ? 'a newer levelgate wrote it; merge with that version' : 'an older levelgate wrote it; rerun the gate'}`;
}

export async function readRunResult(file: string): Promise<RunResult> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`${file}: not a levelgate result file (${error instanceof Error ? error.message : String(error)})`);
  }
  const run = data as Partial<RunResult>;
  if (run.tool !== 'levelgate' || !Array.isArray(run.cells)) throw new UsageError(`${file}: not a levelgate result file (no "tool": "levelgate" and "cells")`);
  const problem = schemaProblem((data as { schemaVersion?: unknown }).schemaVersion, file);
  if (problem) throw new UsageError(problem);
  // Results written before these fields existed read as having none.
  // Cells written before near misses existed started at their level.
  const cells = run.cells.map((c: Partial<CellResult>) => ({ ...c, target: c.target ?? c.level })) as CellResult[];
  const { schemaVersion: _read, ...rest } = run as Partial<RunResult> & { schemaVersion?: string };
  return { ...rest, cells, flaky: run.flaky ?? countFlaky(cells), expiredKnownIssues: run.expiredKnownIssues ?? [], idleKnownIssues: run.idleKnownIssues ?? [], unavailableLevels: run.unavailableLevels ?? [] } as RunResult;
}
