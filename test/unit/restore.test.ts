// A snapshot that does not restore is discarded, made again and restored once more; any
// other failure (a harness bug, an interrupted run) is not a reason to rebuild it.
import test from 'ava';
import type { Snapshot } from '../../harness/accel/backend.js';
import { restoreOrRebuild } from '../../harness/accel/restore.js';
import type { AgentGuest } from '../../harness/guest/agent-guest.js';
import { GuestError } from '../../harness/util/errors.js';

const guest = { facts: { id: 'restored' } } as unknown as AgentGuest;

function fakeSnapshot(id: string, events: string[]): Snapshot {
  return { id, discard: async () => void events.push(`discard ${id}`) } as unknown as Snapshot;
}

test('a snapshot that does not fit is discarded, rebuilt and restored once more, with a line that says so', async (t) => {
  const events: string[] = [];
  const lines: string[] = [];
  const restored = await restoreOrRebuild(fakeSnapshot('old', events), {
    target: 'v3',
    restore: async (snapshot, rebuilt) => {
      events.push(`restore ${snapshot.id} ${rebuilt}`);
      if (snapshot.id === 'old') throw new GuestError('QEMU refused the saved state');
      return guest;
    },
    rebuild: async () => (events.push('rebuild'), fakeSnapshot('new', events)),
    log: (line) => lines.push(line),
  });
  t.is(restored, guest);
  t.deepEqual(events, ['restore old false', 'discard old', 'rebuild', 'restore new true']);
  t.deepEqual(lines, ['snapshot old (v3) did not restore (QEMU refused the saved state); rebuilding it']);
});

test('a failure that is not the guest\'s, or a stopped run, is thrown as it is: nothing is discarded', async (t) => {
  for (const [error, signal] of [
    [new Error('a harness bug'), undefined],
    [new GuestError('QEMU was killed'), AbortSignal.abort()],
  ] as const) {
    const events: string[] = [];
    const thrown = await t.throwsAsync(
      restoreOrRebuild(fakeSnapshot('old', events), {
        target: 'v3',
        restore: async () => {
          throw error;
        },
        rebuild: async () => (events.push('rebuild'), fakeSnapshot('new', events)),
        ...(signal ? { signal } : {}),
      }),
    );
    t.is(thrown, error);
    t.deepEqual(events, []);
  }
});
