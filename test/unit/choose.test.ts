import test from 'ava';
import { chooseAccel } from '../../harness/accel/choose.js';
import type { ProbeResult } from '../../harness/accel/backend.js';
import { explainProbeFailure } from '../../harness/accel/qemu-backend.js';

const probe = (accel: 'tcg' | 'kvm' | 'bochs', level: 'v1' | 'v2' | 'v3' | 'v4', works: boolean, reason = works ? 'booted the guest kernel' : 'no'): ProbeResult => ({ accel, target: level, works, reason, durationMs: 1 });

test('auto prefers a KVM that really boots guests', (t) => {
  const choice = chooseAccel('v3', 'auto', [probe('kvm', 'v3', true), probe('tcg', 'v3', true)]);
  t.is(choice.accel, 'kvm');
});

test('auto falls back to TCG, and says why', (t) => {
  const choice = chooseAccel('v2', 'auto', [probe('kvm', 'v2', false, 'KVM did not boot the guest kernel within 12 s'), probe('tcg', 'v2', true)]);
  t.deepEqual(choice, { target: 'v2', accel: 'tcg', why: 'QEMU TCG (kvm: KVM did not boot the guest kernel within 12 s)' });
});

test('a level no accelerator provides is a skip with every reason, never a pass', (t) => {
  const choice = chooseAccel('v4', 'auto', [probe('kvm', 'v4', false, 'KVM is not available'), probe('tcg', 'v4', false, 'TCG cannot provide this CPU: avx512f')]);
  t.deepEqual(choice, { target: 'v4', accel: null, skipReason: 'no accelerator provides v4 on this host — kvm: KVM is not available; tcg: TCG cannot provide this CPU: avx512f; bochs: not probed' });
  const withBochs = chooseAccel('v4', 'auto', [
    probe('kvm', 'v4', false, 'KVM is not available'),
    probe('tcg', 'v4', false, 'TCG cannot provide this CPU: avx512f'),
    probe('bochs', 'v4', false, 'Bochs is not installed (no bochs command): apt-get install bochs bochsbios vgabios'),
  ]);
  t.is(withBochs.accel, null);
  t.regex(withBochs.accel === null ? withBochs.skipReason : '', /; bochs: Bochs is not installed .*apt-get install bochs bochsbios vgabios$/);
});

test('auto takes Bochs for v4 when neither KVM nor TCG provides it, and says why', (t) => {
  const choice = chooseAccel('v4', 'auto', [
    probe('kvm', 'v4', false, 'KVM opens but cannot run guests'),
    probe('tcg', 'v4', false, 'TCG cannot provide this CPU: avx512f'),
    probe('bochs', 'v4', true, 'booted the guest and proved v4 (corei7_skylake_x)'),
  ]);
  t.deepEqual(choice, { target: 'v4', accel: 'bochs', why: 'Bochs (kvm: KVM opens but cannot run guests; tcg: TCG cannot provide this CPU: avx512f)' });
  // A working TCG wins over Bochs: Bochs is the slow last resort.
  t.is(chooseAccel('v3', 'auto', [probe('kvm', 'v3', false), probe('tcg', 'v3', true), probe('bochs', 'v3', true)]).accel, 'tcg');
  t.is(chooseAccel('v3', 'bochs', [probe('bochs', 'v3', true)]).accel, 'bochs');
});

test('an explicit accelerator is used only when its probe passed', (t) => {
  t.is(chooseAccel('v3', 'kvm', [probe('kvm', 'v3', false), probe('tcg', 'v3', true)]).accel, null);
  t.is(chooseAccel('v3', 'tcg', [probe('tcg', 'v3', true)]).accel, 'tcg');
});

test('probe failures are explained in QEMU words', (t) => {
  t.is(
    explainProbeFailure('tcg', "qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID.07H:EBX.avx512f [bit 16]\n", false),
    "TCG cannot provide this CPU: qemu-system-x86_64: warning: TCG doesn't support requested feature: CPUID.07H:EBX.avx512f [bit 16]",
  );
  t.regex(explainProbeFailure('kvm', 'KVM internal error. Suberror: 1\nemulation failure\n', false), /^KVM opens but cannot run guests/);
  t.regex(explainProbeFailure('kvm', '', true), /KVM did not boot the guest kernel within 20 s \(a KVM that opens but cannot run guests/);
});
