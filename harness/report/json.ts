// The whole run as JSON: one record per cell (scenario, level, driver, verdict, reason
// and the evidence), for other tools and for `levelgate merge`.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { countFlaky } from '../results/summary.js';
import type { CellResult, RunResult } from '../results/types.js';
import { UsageError } from '../util/errors.js';
import type { Reporter } from './reporter.js';

export function jsonReporter(file: string): Reporter {
  return {
    name: 'json',
    async onEnd(run) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, `${JSON.stringify(run, null, 2)}\n`);
      return file;
    },
  };
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
  // Results written before these fields existed read as having none.
  // Cells written before near misses existed started at their level.
  const cells = run.cells.map((c: Partial<CellResult>) => ({ ...c, target: c.target ?? c.level })) as CellResult[];
  return { ...run, cells, flaky: run.flaky ?? countFlaky(cells), expiredKnownIssues: run.expiredKnownIssues ?? [], idleKnownIssues: run.idleKnownIssues ?? [], unavailableLevels: run.unavailableLevels ?? [] } as RunResult;
}
