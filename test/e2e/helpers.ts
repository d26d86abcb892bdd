// Shared by the end-to-end tests: the cached image, and a check that a run left no
// process, socket or file behind.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { ensureImage, type ImageArtifacts } from '../../harness/image/build.js';

let image: Promise<ImageArtifacts> | undefined;
export function testImage(): Promise<ImageArtifacts> {
  image ??= ensureImage();
  return image;
}

/** A fresh directory to hold one guest's temp dir, so leftovers can be counted. */
export async function scratchDir(label: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `levelgate-test-${label}-`));
}

export interface Leftovers {
  readonly files: string[];
  readonly processes: string[];
}

/** What is still there after a run: entries in `dir` and processes whose command line names it. */
export async function leftovers(dir: string): Promise<Leftovers> {
  const files = await readdir(dir).catch(() => []);
  const ps = await execa('pgrep', ['-af', dir], { reject: false });
  const processes = ps.stdout.split('\n').filter((l) => l.trim() && !l.includes('pgrep'));
  return { files, processes };
}

export async function removeScratch(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Runs `fn` with a scratch directory of its own, removed afterwards whatever happens. */
export async function withScratch<T>(label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await scratchDir(label);
  try {
    return await fn(dir);
  } finally {
    await removeScratch(dir);
  }
}
