// Boots a real guest at each level under TCG and checks what it proves.
import test from 'ava';
import { bootGuest } from '../../harness/guest/boot-guest.js';
import { resolveAccelChoice } from '../../harness/guest/pinned.js';
import { QemuGuest } from '../../harness/guest/qemu-guest.js';
import { getLevel, type LevelName } from '../../harness/levels/table.js';
import { testImage } from './helpers.js';

const expectedCanaries: Record<'v1' | 'v2' | 'v3', Record<string, string>> = {
  v1: { popcnt: 'sigill', 'sse4.2-crc32': 'sigill', 'avx2-vpaddd': 'sigill', lzcnt: 'wrong', 'avx512f-vpaddd': 'sigill' },
  v2: { popcnt: 'ok', 'sse4.2-crc32': 'ok', 'avx2-vpaddd': 'sigill', 'bmi2-pdep': 'sigill', movbe: 'sigill', 'fma-vfmadd': 'sigill', lzcnt: 'wrong', 'avx512f-vpaddd': 'sigill' },
  v3: { popcnt: 'ok', 'avx2-vpaddd': 'ok', 'bmi2-pdep': 'ok', movbe: 'ok', 'fma-vfmadd': 'ok', lzcnt: 'ok', 'avx512f-vpaddd': 'sigill', 'avx512vl-vpabsq': 'sigill' },
};

for (const level of ['v1', 'v2', 'v3'] as const) {
  test.serial(`a ${level} guest under TCG proves ${level}, traps what is above it, and rpm agrees`, async (t) => {
    const image = await testImage();
    const choice = await resolveAccelChoice(level, 'tcg', image);
    t.is(choice.accel, 'tcg');
    await using guest = await QemuGuest.boot({ image, level, accel: 'tcg' });
    const proof = guest.proof;
    t.true(proof.ok, proof.problems.join('\n'));
    t.is(proof.proven, level);
    t.is(proof.cpuinfoLevel, level);
    t.is(proof.glibcLevel, level);
    t.deepEqual(proof.strayFlags, []);
    t.is(proof.fidelity, 'traps');
    const outcomes: Record<string, string> = Object.fromEntries(proof.canaries.map((c) => [c.name, c.outcome]));
    for (const [name, outcome] of Object.entries(expectedCanaries[level])) t.is(outcomes[name], outcome, `${level} canary ${name}`);
    t.is(guest.facts.accel, 'tcg');
    t.regex(guest.facts.cpu, /^qemu64,.*,enforce$/);

    // The guest's own rpm (6.1) detects the same level.
    const rpm = await guest.exec(['sh', '-c', 'rpm --showrc | grep "install arch"']);
    t.is(rpm.exitCode, 0);
    t.is(rpm.stdout.split(':')[1]?.trim(), getLevel(level).rpmArch);

    // An instruction from above the level kills the process with SIGILL, and the
    // console shows the trap.
    if (level !== 'v3') {
      const above = await guest.exec(['/usr/lib/levelgate/canary', 'avx2-vpaddd']);
      t.regex(above.stdout, /^canary avx2-vpaddd v3 sigill/);
    }
    const sigill = await guest.exec(['sh', '-c', 'kill -ILL $$']);
    t.is(sigill.signal, 'SIGILL');
    t.is(sigill.exitCode, null);
  });
}

test.serial('v4 comes from KVM on an AVX-512 host, else from Bochs, else it is skipped with every reason', async (t) => {
  const image = await testImage();
  const choice = await resolveAccelChoice('v4' as LevelName, 'auto', image);
  if (choice.accel === null) {
    t.regex(choice.skipReason, /^no accelerator provides v4 on this host — /);
    t.regex(choice.skipReason, /tcg: TCG cannot provide this CPU: .*avx512f/);
    t.regex(choice.skipReason, /bochs: /);
    return;
  }
  // QEMU TCG never provides v4: whatever auto picked must boot a guest that proves it.
  t.not(choice.accel, 'tcg');
  if (choice.accel === 'bochs') t.regex(choice.why, /tcg: TCG cannot provide this CPU: .*avx512f/);
  await using guest = await bootGuest({ image, level: 'v4', accel: choice.accel });
  t.is(guest.proof.proven, 'v4');
});
