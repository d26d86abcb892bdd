// Waiting with a deadline, an abort signal and a rival promise (the guest's death),
// without leaving timers behind.
import { setTimeout as sleep } from 'node:timers/promises';
import { GuestError, InterruptedError } from '../util/errors.js';

export interface RaceOptions {
  readonly timeoutMs?: number;
  readonly onTimeout?: () => Error;
  readonly signal?: AbortSignal | undefined;
}

/** Resolves with `work`, unless `other` settles first or the timeout or abort comes first. */
export async function raceWith<T, U>(work: Promise<T>, other: Promise<U>, options: RaceOptions = {}): Promise<T | U> {
  const controller = new AbortController();
  const contenders: Promise<T | U>[] = [work, other];
  if (options.timeoutMs !== undefined) {
    contenders.push(
      sleep(options.timeoutMs, undefined, { signal: controller.signal }).then(
        () => {
          throw options.onTimeout?.() ?? new GuestError(`timed out after ${options.timeoutMs} ms`);
        },
        () => new Promise<never>(() => {}),
      ),
    );
  }
  if (options.signal) {
    const signal = options.signal;
    contenders.push(
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(new InterruptedError('run interrupted'));
        signal.addEventListener('abort', () => reject(new InterruptedError('run interrupted')), { once: true, signal: controller.signal });
      }),
    );
  }
  try {
    return await Promise.race(contenders);
  } finally {
    controller.abort();
  }
}

/** True when `promise` settles (either way) within `ms`; the timer never outlives it. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const never = new Promise<never>(() => {});
  return raceWith(
    promise.then(
      () => true,
      () => true,
    ),
    never,
    { timeoutMs: ms, onTimeout: () => new Error('timeout') },
  ).catch(() => false);
}
