// Placement resolved once: each CPU target's backend and every limit as numbers, from the
// choice of accelerator, the backend's pace, the host's stretch and what the user gave.
import test from 'ava';
import { Placer } from '../../harness/accel/placement.js';
import { DEFAULTS } from '../../harness/model/defaults.js';
import { fakeBackends } from '../fixtures/fake-backends.js';
import type { AccelChoice } from '../../harness/accel/choose.js';

const { table } = fakeBackends();
const backends = { ...table, bochs: { ...table.bochs, slowdown: 20, bootTimeoutMs: 15_000 }, tcg: { ...table.tcg, ...DEFAULTS.backends.tcg } };
const choose = (target: string): AccelChoice => (target === 'v4' ? { target, accel: 'bochs', why: 'AVX-512' } : target === 'v9' ? { target, accel: null, skipReason: 'no such CPU' } : { target, accel: 'tcg', why: 'fake' });

test("a target's placement carries its backend record and its limits in milliseconds, stretched by the host and slowed by the backend", (t) => {
  const placer = new Placer({ choose, backends, stretch: 2 });
  const v3 = placer.at('v3');
  t.is(v3.accel, 'tcg');
  if (v3.accel === null) return;
  t.is(v3.backend, backends.tcg);
  t.deepEqual(v3.limits, {
    bootMs: DEFAULTS.backends.tcg.bootTimeoutMs * 2,
    commandMs: DEFAULTS.commandTimeoutMs * 2,
    programMs: DEFAULTS.programTimeoutMs * 2,
    cellMs: DEFAULTS.cellTimeoutMs * 2,
    probeMs: DEFAULTS.probeTimeoutMs * 2,
  });
  const v4 = placer.at('v4');
  if (v4.accel === null) return t.fail();
  t.is(v4.limits.bootMs, 30_000);
  t.is(v4.limits.cellMs, DEFAULTS.cellTimeoutMs * 2 * 20);
  t.deepEqual(placer.at('v9'), { target: 'v9', accel: null, skipReason: 'no such CPU' });
  t.deepEqual(placer.bootMs(), { kvm: 2000, tcg: DEFAULTS.backends.tcg.bootTimeoutMs * 2, bochs: 30_000 });
});

test("the user's limits are used as given (a cell's is for TCG and still gets the backend's slowdown); a backend's own given boot limit too", (t) => {
  const withImage = { ...backends, tcg: { ...backends.tcg, given: { bootMs: 10_000 } } };
  const placer = new Placer({ choose, backends: withImage, stretch: 3, given: { cellMs: 60_000, commandMs: 5000 } });
  t.like(placer.limits('tcg'), { bootMs: 10_000, cellMs: 60_000, commandMs: 5000, programMs: DEFAULTS.programTimeoutMs * 3 });
  t.like(placer.limits('bochs'), { bootMs: 45_000, cellMs: 60_000 * 20, commandMs: 5000 });
  t.is(placer.unplacedCellMs(), 60_000);
});

test('a snapshot made before the first cell gets at least twice the idle limit; another choice keeps the limits', (t) => {
  const placer = new Placer({ choose, backends, stretch: 1.5 });
  t.is(placer.snapshotBootMs('tcg'), DEFAULTS.backends.tcg.bootTimeoutMs * 2);
  t.is(placer.with({ stretch: 3 }).snapshotBootMs('tcg'), DEFAULTS.backends.tcg.bootTimeoutMs * 3);
  const skipped = placer.choosing((target) => ({ target, accel: null, skipReason: 'unusable' }));
  t.is(skipped.at('v3').accel, null);
  t.is(skipped.limits('tcg').bootMs, placer.limits('tcg').bootMs);
});
