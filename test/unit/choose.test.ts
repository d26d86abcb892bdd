import test from 'ava';
import { chooseAccel } from '../../harness/accel/choose.js';
import { explainProbeFailure, type ProbeResult } from '../../harness/accel/probe.js';

const probe = (accel: 'tcg' | 'kvm', level: 'v1' | 'v2' | 'v3' | 'v4', works: boolean, reason = works ? 'booted the guest kernel' : 'no'): ProbeResult => ({ accel, level, works, reason, durationMs: 1 });

test('auto prefers a KVM that really boots guests', (t) => {
  const choice = chooseAccel('v3', 'auto', [probe('kvm', 'v3', true), probe('tcg', 'v3', true)]);
  t.is(choice.accel, 'kvm');
});

test('auto falls back to TCG, and says why', (t) => {
  const choice = chooseAccel('v2', 'auto', [probe('kvm', 'v2', false, 'KVM did not boot the guest kernel within 12 s'), probe('tcg', 'v2', true)]);
  t.deepEqual(choice, { level: 'v2', accel: 'tcg', why: 'TCG (kvm: KVM did not boot the guest kernel within 12 s)' });
});

test('a level no accelerator provides is a skip with every reason, never a pass', (t) => {
  const choice = chooseAccel('v4', 'auto', [probe('kvm', 'v4', false, 'KVM is not available'), probe('tcg', 'v4', false, 'TCG cannot provide this CPU: avx512f')]);
  t.deepEqual(choice, { level: 'v4', accel: null, skipReason: 'no accelerator provides v4 on this host — kvm: KVM is not available; tcg: TCG cannot provide this CPU: avx512f' });
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
  t.regex(explainProbeFailure('kvm', '', true), /KVM did not boot the guest kernel within 12 s \(a KVM that opens but cannot run guests/);
});
