// A guest restored from a snapshot, for a run's sessions and a pinned guest alike: a
// snapshot that does not fit (a damaged file, another emulator build) is discarded, never
// used again, made anew and restored once more.
import type { AgentGuest } from '../guest/agent-guest.js';
import { GuestError, InterruptedError, LevelProofError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import type { Snapshot } from './backend.js';

export interface RestoreContext {
  /** The CPU target's name, for the log line. */
  readonly target: string;
  /** Restores a guest from a snapshot; `rebuilt`: the snapshot was made again after the first did not restore. */
  readonly restore: (snapshot: Snapshot, rebuilt: boolean) => Promise<AgentGuest>;
  /** Makes the snapshot again (the old one is discarded first). */
  readonly rebuild: () => Promise<Snapshot>;
  readonly log?: Log;
  readonly signal?: AbortSignal;
}

export async function restoreOrRebuild(snapshot: Snapshot, context: RestoreContext): Promise<AgentGuest> {
  try {
    return await context.restore(snapshot, false);
  } catch (error) {
    if (context.signal?.aborted || error instanceof InterruptedError || !(error instanceof GuestError || error instanceof LevelProofError)) throw error;
    context.log?.(`snapshot ${snapshot.id} (${context.target}) did not restore (${error.message}); rebuilding it`);
    await snapshot.discard();
    return context.restore(await context.rebuild(), true);
  }
}
