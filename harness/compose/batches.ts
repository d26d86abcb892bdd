// Runs an operation over names in batches and isolates what a batch cannot settle: a
// batch the tool refuses is split in halves until each culprit stands alone, so one
// broken package never costs the verdicts of the others. A lone name's refusal is its
// own result; an error (the harness or guest failed) ends only the names it covered.

/** What one attempt at a batch gave. */
export type BatchOutcome<T> =
  | { readonly kind: 'ok'; readonly value: T }
  /**
   * The tool refused the batch as a whole (a solver problem): split it. `suspects`: the
   * batch's names the tool's message names, tried alone first (the rest stays one batch).
   */
  | { readonly kind: 'refused'; readonly value: T; readonly suspects?: readonly string[] };

export interface Settled<T> {
  readonly names: readonly string[];
  readonly outcome: BatchOutcome<T> | { readonly kind: 'error'; readonly error: unknown };
}

/** Splits `names` into batches of at most `size`. */
export function chunk<T>(names: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size ${size} is not a whole number of at least 1`);
  const out: T[][] = [];
  for (let i = 0; i < names.length; i += size) out.push(names.slice(i, i + size));
  return out;
}

/**
 * Every name ends in exactly one settled group: an accepted batch, a refused lone
 * name, or a group whose attempt threw. A refused batch of more than one name is split:
 * the names the tool blamed alone and the rest together, or else in halves.
 */
export async function settleInBatches<T>(names: readonly string[], size: number, attempt: (batch: readonly string[]) => Promise<BatchOutcome<T>>): Promise<Settled<T>[]> {
  const settled: Settled<T>[] = [];
  const work = chunk(names, size);
  while (work.length > 0) {
    const batch = work.shift()!;
    let outcome: BatchOutcome<T>;
    try {
      outcome = await attempt(batch);
    } catch (error) {
      settled.push({ names: batch, outcome: { kind: 'error', error } });
      continue;
    }
    if (outcome.kind === 'refused' && batch.length > 1) {
      const suspects = batch.filter((n) => outcome.suspects?.includes(n));
      if (suspects.length > 0 && suspects.length < batch.length) {
        work.unshift(...suspects.map((n) => [n]), batch.filter((n) => !suspects.includes(n)));
        continue;
      }
      const half = Math.ceil(batch.length / 2);
      work.unshift(batch.slice(0, half), batch.slice(half));
      continue;
    }
    settled.push({ names: batch, outcome });
  }
  return settled;
}
