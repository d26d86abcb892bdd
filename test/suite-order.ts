// The order ava starts the suite's files in: the longest end-to-end files first, so the last minutes of `npm test` are short files on both workers, not one long file alone.
import path from 'node:path';

/**
 * Seconds each end-to-end file's tests took in a clean-clone `npm test` (ava's per-test
 * durations summed by file, two workers, a29a3db; BENCHMARKS.md "The suite, longest
 * files first"). A weight for the order only: refresh it when a file's share moves.
 */
export const E2E_SECONDS: Readonly<Record<string, number>> = {
  'cloud-image.e2e.test.js': 248,
  'near-misses.e2e.test.js': 182,
  'verdicts.e2e.test.js': 124,
  'bochs.e2e.test.js': 117,
  'compose.e2e.test.js': 106,
  'audit-truth.e2e.test.js': 94,
  'levels.e2e.test.js': 85,
  'snapshots.e2e.test.js': 61,
  'install.e2e.test.js': 60,
  'bochs-snapshots.e2e.test.js': 51,
  'cleanup.e2e.test.js': 45,
  'apt-pacman.e2e.test.js': 36,
  'hwcaps-pattern.e2e.test.js': 30,
  'retries.e2e.test.js': 30,
  'project.e2e.test.js': 28,
  'guest.e2e.test.js': 18,
  'audit-bisect.e2e.test.js': 18,
  'runners.e2e.test.js': 18,
  'ci-examples.e2e.test.js': 16,
  'init.e2e.test.js': 11,
  'audit-run.e2e.test.js': 10,
  'html-report.e2e.test.js': 10,
};

/** An end-to-end file's weight; a file not in the table (a new one) counts as long, so it is not left to the end unmeasured. */
export function fileWeight(file: string): number {
  const name = path.basename(file);
  if (!name.endsWith('.e2e.test.js')) return 0;
  return E2E_SECONDS[name] ?? Math.max(...Object.values(E2E_SECONDS));
}

/** ava's `sortTestFiles` comparator: heavier first, then by path (the same order every run). */
export function e2eFilesLongestFirst(a: string, b: string): number {
  return fileWeight(b) - fileWeight(a) || a.localeCompare(b, 'en', { numeric: true });
}
