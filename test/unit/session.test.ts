// BackendGuests and AgentSession with a backend table that boots nothing: which CPU each
// boot of a cell is on, and where the facts of a restored cell come from.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { factDetectors, parseDetection } from '../../harness/drivers/detectors.js';
import { parseTargetName } from '../../harness/levels/targets.js';
import { BackendGuests, type SessionRequest } from '../../harness/run/session.js';
import { DETECTION_V3, FAKE_IMAGE, fakeBackends } from '../fixtures/fake-backends.js';

async function request(name: string): Promise<SessionRequest & { cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-session-'));
  return { firstAccel: 'tcg', target: parseTargetName(name)!, accelAt: () => 'tcg', bootMs: {}, evidenceDir: dir, scratch: dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

test('a near-miss cell that reboots comes back on the near miss, and a move to another level is on that exact level', async (t) => {
  const { table, boots } = fakeBackends();
  const guests = new BackendGuests({ image: FAKE_IMAGE, dataDisks: [], snapshots: false, backends: table });
  const r = await request('v3-fma');
  try {
    const session = await guests.open(r);
    await session.start('v2');
    await session.bootAt('v2');
    await session.bootAt('v3');
    await session.dispose();
    t.deepEqual(
      boots.map((b) => [b.options.level, b.options.target?.name ?? 'exact']),
      [
        ['v2', 'v3-fma'],
        ['v2', 'v3-fma'],
        ['v3', 'exact'],
      ],
    );
  } finally {
    await r.cleanup();
  }
});

test("a restored cell's detectors are asked live in the guest, never copied from the snapshot", async (t) => {
  const stale = parseDetection(DETECTION_V3).map((d) => ({ ...d, answer: 'from the snapshot', level: 'v1' as const }));
  const { table, boots } = fakeBackends({ snapshotDetectors: stale });
  const guests = new BackendGuests({ image: FAKE_IMAGE, dataDisks: [], snapshots: true, backends: table });
  const r = await request('v3');
  try {
    const session = await guests.open(r);
    await session.start('v3');
    t.is(boots[0]?.how, 'restore');
    t.is(session.facts?.start, 'snapshot');
    t.deepEqual(session.facts?.detectors, parseDetection(DETECTION_V3));
    await session.dispose();
  } finally {
    await r.cleanup();
  }
});

test("a guest source's memory reaches its snapshots and every boot of a cell; without it the backends' own", async (t) => {
  const sized = fakeBackends({ snapshotDetectors: parseDetection(DETECTION_V3) });
  const r = await request('v3');
  try {
    const session = await new BackendGuests({ image: FAKE_IMAGE, dataDisks: [], snapshots: true, backends: sized.table, memoryMiB: 2048 }).open(r);
    await session.start('v3');
    await session.bootAt('v2');
    await session.dispose();
    t.deepEqual(sized.snapshotRequests.map((s) => s.memoryMiB), [2048]);
    t.deepEqual(sized.boots.map((b) => [b.how, b.options.memoryMiB]), [['restore', 2048], ['boot', 2048]]);
    const plain = fakeBackends({ snapshotDetectors: parseDetection(DETECTION_V3) });
    const other = await new BackendGuests({ image: FAKE_IMAGE, dataDisks: [], snapshots: true, backends: plain.table }).open(r);
    await other.start('v3');
    await other.dispose();
    t.deepEqual([plain.snapshotRequests[0]?.memoryMiB, plain.boots[0]?.options.memoryMiB], [undefined, undefined]);
  } finally {
    await r.cleanup();
  }
});

test("a cell's facts ask live only the detectors its request names, in one command that starts no other tool", async (t) => {
  const { table, commands } = fakeBackends({ snapshotDetectors: [] });
  const guests = new BackendGuests({ image: FAKE_IMAGE, dataDisks: [], snapshots: true, backends: table });
  const r = await request('v3');
  try {
    const detectors = factDetectors('dnf5', false);
    const session = await guests.open({ ...r, detectors });
    await session.start('v3');
    t.deepEqual(session.facts?.detectors.map((d) => d.detector), [...detectors]);
    t.deepEqual(session.facts?.detectors, parseDetection(DETECTION_V3, detectors));
    t.is(commands.length, 1);
    t.true(commands[0]!.join(' ').includes('dnf5 --releasever=sid --dump-variables'));
    t.false(commands[0]!.join(' ').includes('system-architecture'));
    await session.dispose();
  } finally {
    await r.cleanup();
  }
});

test("a machine a backend refuses at a CPU (a distribution image at a near miss) is unusable there, with the backend's reason, and a cell there does not open", async (t) => {
  const { table, snapshotRequests } = fakeBackends({ snapshotDetectors: [] });
  const why = 'near-miss CPUs run the default guest only: image x is pinned at exact levels';
  const refusing = { ...table, tcg: { ...table.tcg, unusable: (target: { nearMiss?: unknown }) => (target.nearMiss ? why : undefined) } };
  const guests = new BackendGuests({ image: FAKE_IMAGE, dataDisks: [], snapshots: true, backends: refusing });
  const unusable = await guests.prepare([{ target: parseTargetName('v3-fma')!, accel: 'tcg' }, { target: parseTargetName('v3')!, accel: 'tcg' }]);
  t.deepEqual([...unusable], [['v3-fma', why]]);
  t.deepEqual(snapshotRequests.map((s) => s.target.name), ['v3'], 'only the usable CPU gets a snapshot');
  const r = await request('v3-fma');
  try {
    await t.throwsAsync(guests.open(r), { message: why });
  } finally {
    await r.cleanup();
  }
});

test("a machine's facts come from the snapshot of the first level it can run at, made even when cells boot cold; none without a usable level", async (t) => {
  const { table, snapshotRequests } = fakeBackends({ snapshotDetectors: [] });
  const facts = { os: 'Debian' } as unknown as NonNullable<Awaited<ReturnType<BackendGuests['facts']>>>;
  const withFacts = { ...table, tcg: { ...table.tcg, snapshots: { ensure: async (request: Parameters<NonNullable<typeof table.tcg.snapshots>['ensure']>[0]) => ({ ...(await table.tcg.snapshots!.ensure(request)), facts }) } } };
  const refusing = { ...withFacts, bochs: { ...withFacts.bochs, unusable: () => 'no' } };
  const guests = new BackendGuests({ image: FAKE_IMAGE, dataDisks: [], snapshots: false, backends: refusing });
  t.is(await guests.facts([{ level: 'v4', accel: 'bochs' }, { level: 'v1', accel: null }, { level: 'v2', accel: 'tcg' }]), facts);
  t.deepEqual(snapshotRequests.map((s) => s.target.name), ['v2']);
  t.is(await guests.facts([{ level: 'v4', accel: 'bochs' }]), undefined);
});
