// The audit as JSON: the whole run, every package and file, for machines and for diffing runs.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuditRun } from './types.js';

export async function writeAuditJson(run: AuditRun, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(run, null, 1)}\n`);
}
