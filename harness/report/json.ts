// The whole run as JSON: one record per cell (scenario, level, driver, verdict, reason
// and the evidence), for other tools and for `levelgate merge`. Written as a stream, a
// cell at a time, through a temporary file renamed into place: 20,000 cells never
// become one string (V8 caps a string near 512 MiB), and a run that dies mid-write
// leaves the previous gate.json, not half of one.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
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
export const GATE_SCHEMA_VERSION = '1.1';
const READS_MAJOR = 1;

/**
 * The text of `JSON.stringify({ schemaVersion, ...run }, null, 2)` (byte for byte: a
 * cell's own text is indented to its depth; JSON escapes every newline inside a
 * string), in pieces: the run's fields, then each cell, then the closing brackets.
 */
export function* gateJsonChunks(run: RunResult): Generator<string> {
  const { cells, ...fields } = run;
  const head = JSON.stringify({ schemaVersion: GATE_SCHEMA_VERSION, ...fields }, null, 2);
  yield head.slice(0, -2);
  yield `,\n  "cells": [`;
  let first = true;
  for (const cell of cells) {
    yield `${first ? '' : ','}\n    ${JSON.stringify(cell, null, 2).replace(/\n/g, '\n    ')}`;
    first = false;
  }
  yield cells.length > 0 ? '\n  ]\n}\n' : ']\n}\n';
}

/** Writes the run to `file` a cell at a time, waiting for the disk when its buffer is full. */
export async function writeGateJson(file: string, run: RunResult): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const staging = `${file}.${process.pid}.partial`;
  const out = createWriteStream(staging);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  try {
    for (const chunk of gateJsonChunks(run)) {
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    await rename(staging, file);
  } catch (error) {
    out.destroy();
    await rm(staging, { force: true });
    throw error;
  }
}

export function jsonReporter(file: string): Reporter {
  return {
    name: 'json',
    async onEnd(run) {
      await writeGateJson(file, run);
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
