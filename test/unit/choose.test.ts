import test from 'ava';
import { chooseAccel } from '../../harness/accel/choose.js';
import { expectedFidelity } from '../../harness/accel/fidelity.js';
import { parseTargetName } from '../../harness/levels/targets.js';
import type { ProbeResult } from '../../harness/accel/backend.js';
import { explainProbeFailure } from '../../harness/accel/qemu-backend.js';

const probe = (accel: 'tcg' | 'kvm' | 'bochs', level: string, works: boolean, reason = works ? 'booted the guest kernel' : 'no'): ProbeResult => ({ accel, target: level, works, reason, durationMs: 1 });

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

test('on a host whose KVM boots guests, auto takes an emulator that traps where KVM only masks CPUID, and says why', (t) => {
  // A KVM host (GitHub's runners expose /dev/kvm), simulated by its probe answers.
  const both = (target: string) => [probe('kvm', target, true), probe('tcg', target, true)];
  const v2 = chooseAccel('v2', 'auto', both('v2'));
  t.deepEqual(v2, { target: 'v2', accel: 'tcg', why: 'QEMU TCG (kvm: KVM runs v2 guests but only masks CPUID there (BMI1 BMI2 LZCNT MOVBE would run on the host CPU); QEMU TCG traps every instruction above it)' });
  t.is(chooseAccel('v1', 'auto', both('v1')).accel, 'tcg');
  t.is(chooseAccel('v3-fma', 'auto', both('v3-fma')).accel, 'tcg');
  // Where KVM traps as hardware would (AVX-512 or AVX without its state), it is kept.
  t.is(chooseAccel('v3', 'auto', both('v3')).accel, 'kvm');
  t.is(chooseAccel('v3-avx', 'auto', both('v3-avx')).accel, 'kvm');
  t.is(chooseAccel('v3-noxsave', 'auto', both('v3-noxsave')).accel, 'kvm');
  t.is(chooseAccel('v4', 'auto', [probe('kvm', 'v4', true), probe('tcg', 'v4', false, 'TCG cannot provide this CPU: avx512f')]).accel, 'kvm');
  // KVM alone: used, and the reason says what it cannot judge.
  const only = chooseAccel('v2', 'auto', [probe('kvm', 'v2', true), probe('tcg', 'v2', false, 'TCG did not boot')]);
  t.is(only.accel, 'kvm');
  t.regex(only.accel ? only.why : '', /only masks CPUID there .*, and no emulator that traps provides it \(tcg: TCG did not boot; bochs: not probed\): checks that need a trap are not judged$/);
  // --accel kvm is taken as asked; its cells then meet the fidelity rules.
  t.is(chooseAccel('v2', 'kvm', both('v2')).accel, 'kvm');
});

test('expected fidelity: TCG and Bochs trap; KVM traps only where what the CPU refuses needs state the guest leaves off', (t) => {
  const kvm = (name: string) => expectedFidelity('kvm', parseTargetName(name)!);
  t.deepEqual(['v1', 'v2', 'v3', 'v4', 'v3-fma', 'v3-lzcnt', 'v3-avx', 'v3-osxsave', 'v3-noxsave', 'v3-noavxstate', 'v2-popcnt'].map(kvm), [
    'masks-only', 'masks-only', 'traps', 'untested', 'masks-only', 'masks-only', 'traps', 'traps', 'traps', 'traps', 'masks-only',
  ]);
  t.is(expectedFidelity('tcg', parseTargetName('v2')!), 'traps');
  t.is(expectedFidelity('bochs', parseTargetName('v4')!), 'untested');
});
