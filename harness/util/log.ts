// Progress lines for long pipelines: each step says what it does and how long it took.

export type Log = (line: string) => void;

export const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);
export const silentLog: Log = () => {};

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** Runs one named step, logging its start and its duration (or its failure). */
export async function timedStep<T>(log: Log, name: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now();
  log(`  • ${name}…`);
  try {
    const result = await fn();
    log(`  ✓ ${name} (${formatSeconds(performance.now() - started)})`);
    return result;
  } catch (error) {
    log(`  ✗ ${name} failed after ${formatSeconds(performance.now() - started)}`);
    throw error;
  }
}
