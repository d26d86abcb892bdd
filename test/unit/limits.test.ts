// The one stretch policy and the limits it resolves: numbers per backend, given limits kept.
import test from 'ava';
import { DEFAULTS } from '../../harness/model/defaults.js';
import { hostStretch, imagePace, limitsFor } from '../../harness/model/limits.js';

test('the host stretches limits by workers per core or load per core (capped), whichever is larger, never below 1', (t) => {
  t.is(hostStretch({ workers: 2, load: 0, cores: 2 }), 1);
  t.is(hostStretch({ workers: 4, load: 0, cores: 2 }), 2);
  t.is(hostStretch({ workers: 1, load: 6, cores: 2 }), 3);
  t.is(hostStretch({ workers: 1, load: 100, cores: 2 }), DEFAULTS.maxLoadStretch, 'the load counts up to the cap');
  t.is(hostStretch({ workers: 10, load: 100, cores: 2 }), 5, 'workers the user asked for are not capped');
  t.is(hostStretch({ load: 0.5, cores: 4 }), 1);
});

test("a guest's limits: its backend's boot limit, work stretched by its slowdown, all by the host's stretch", (t) => {
  t.deepEqual(limitsFor(DEFAULTS.backends.tcg, 1), {
    bootMs: DEFAULTS.backends.tcg.bootTimeoutMs,
    commandMs: DEFAULTS.commandTimeoutMs,
    programMs: DEFAULTS.programTimeoutMs,
    cellMs: DEFAULTS.cellTimeoutMs,
    probeMs: DEFAULTS.probeTimeoutMs,
  });
  const bochs = limitsFor(DEFAULTS.backends.bochs, 2);
  t.is(bochs.bootMs, DEFAULTS.backends.bochs.bootTimeoutMs * 2, 'the boot limit is per backend already: no slowdown');
  t.is(bochs.commandMs, DEFAULTS.commandTimeoutMs * 2 * DEFAULTS.backends.bochs.slowdown);
  t.is(bochs.programMs, DEFAULTS.programTimeoutMs * 2 * DEFAULTS.backends.bochs.slowdown);
  t.is(bochs.cellMs, DEFAULTS.cellTimeoutMs * 2 * DEFAULTS.backends.bochs.slowdown);
});

test('a limit the user gave is used as given; a given cell limit is for TCG and still gets the slowdown', (t) => {
  t.is(limitsFor(DEFAULTS.backends.tcg, 3, { bootMs: 10_000 }).bootMs, 10_000);
  t.is(limitsFor(DEFAULTS.backends.tcg, 3, { cellMs: 60_000 }).cellMs, 60_000);
  t.is(limitsFor(DEFAULTS.backends.bochs, 3, { cellMs: 60_000 }).cellMs, 60_000 * DEFAULTS.backends.bochs.slowdown);
});

test("a distribution image's boot: its own default, or LEVELGATE_IMAGE_BOOT_TIMEOUT's seconds as given", (t) => {
  const stretched = imagePace({});
  t.deepEqual(stretched, { pace: { bootTimeoutMs: DEFAULTS.imageBootTimeoutMs, slowdown: 1 }, given: {} });
  t.is(limitsFor(stretched.pace, 2, stretched.given).bootMs, DEFAULTS.imageBootTimeoutMs * 2);
  const given = imagePace({ LEVELGATE_IMAGE_BOOT_TIMEOUT: '10' });
  t.is(limitsFor(given.pace, 4, given.given).bootMs, 10_000);
  t.deepEqual(imagePace({ LEVELGATE_IMAGE_BOOT_TIMEOUT: 'soon' }).given, {}, 'not a number of seconds: the default');
});
