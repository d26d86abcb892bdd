// Boots a real guest at each level under TCG and checks what it proves.
import test from 'ava';
import { placePinned } from '../../harness/accel/pinned.js';
import { QemuGuest } from '../../harness/guest/qemu-guest.js';
import { getLevel, type LevelName } from '../../harness/levels/table.js';
import { removeScratch, scratchDir, testImage } from './helpers.js';
import { chooseAccel } from '../../harness/accel/choose.js';
import type { ProbeResult } from '../../harness/accel/backend.js';
import { probeAll } from '../../harness/accel/probe.js';
import { exactTarget } from '../../harness/levels/targets.js';
import { planCells } from '../../harness/plan/plan.js';
import { runCell } from '../../harness/run/cell.js';
import { prepareRun } from '../../harness/run/prepare.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';

const expectedCanaries: Record<'v1' | 'v2' | 'v3', Record<string, string>> = {
  v1: { popcnt: 'sigill', 'sse4.2-crc32': 'sigill', 'avx2-vpaddd': 'sigill', lzcnt: 'wrong', 'avx512f-vpaddd': 'sigill' },
  v2: { popcnt: 'ok', 'sse4.2-crc32': 'ok', 'avx2-vpaddd': 'sigill', 'bmi2-pdep': 'sigill', movbe: 'sigill', 'fma-vfmadd': 'sigill', lzcnt: 'wrong', 'avx512f-vpaddd': 'sigill' },
  v3: { popcnt: 'ok', 'avx2-vpaddd': 'ok', 'bmi2-pdep': 'ok', movbe: 'ok', 'fma-vfmadd': 'ok', lzcnt: 'ok', 'avx512f-vpaddd': 'sigill', 'avx512vl-vpabsq': 'sigill' },
};

for (const level of ['v1', 'v2', 'v3'] as const) {
  test.serial(`a ${level} guest under TCG proves ${level}, traps what is above it, and rpm agrees`, async (t) => {
    const image = await testImage();
    const choice = await placePinned(level, 'tcg', image);
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
  const choice = await placePinned('v4' as LevelName, 'auto', image);
  if (choice.accel === null) {
    t.regex(choice.skipReason, /^no accelerator provides v4 on this host — /);
    t.regex(choice.skipReason, /tcg: TCG cannot provide this CPU: .*avx512f/);
    t.regex(choice.skipReason, /bochs: /);
    return;
  }
  // QEMU TCG never provides v4: whatever auto picked must boot a guest that proves it.
  t.not(choice.accel, 'tcg');
  if (choice.accel === 'bochs') t.regex(choice.why, /tcg: TCG cannot provide this CPU: .*avx512f/);
  await using guest = await choice.backend.boot({ image, level: 'v4' });
  t.is(guest.proof.proven, 'v4');
});

test.serial('on a simulated KVM host a v2 cell that needs a trap runs under TCG and traps; --accel kvm with --require-fidelity traps is an error before it boots', async (t) => {
  const scratch = await scratchDir('kvm-host');
  try {
    const prepared = await prepareRun(CATALOG, 'tcg');
    const tcg = await probeAll(['tcg'], [exactTarget('v2'), exactTarget('v3')], prepared.artifacts);
    // This host's KVM cannot boot guests: the probe answers of one whose KVM does (GitHub's runners), injected.
    const kvmHost: ProbeResult[] = [...tcg, ...['v2', 'v3'].map((target) => ({ accel: 'kvm' as const, target, works: true, reason: 'booted the guest kernel (simulated)', durationMs: 1 }))];
    const [cell] = planCells(CATALOG, { scenarios: ['arch-override'], targets: ['v2'], drivers: ['rpm'] });
    // Time limits stretched as the gate stretches them on a loaded host (the suite shares two cores).
    const env = { ...prepared, knownIssues: KNOWN_ISSUES, evidenceDir: scratch, today: '2026-12-01' };
    const stretched = prepared.placement.with({ stretch: 4 });
    const auto = await runCell(cell!, { ...env, placement: stretched.choosing((name) => chooseAccel(name, 'auto', kvmHost)), requireFidelity: 'traps' });
    t.is(auto.facts?.accel, 'tcg', auto.reason);
    t.is(auto.facts?.fidelity, 'traps');
    t.is(auto.verdict, 'pass', auto.reason);
    t.true(auto.steps.some((s) => s.checks.some((c) => c.kind === 'dies' && c.status === 'pass')), 'the dies check was judged');
    const kvm = await runCell(cell!, { ...env, placement: stretched.choosing((name) => chooseAccel(name, 'kvm', kvmHost)), requireFidelity: 'traps' });
    t.is(kvm.verdict, 'error');
    t.is(kvm.reason, 'v2 must run on a guest that traps (--require-fidelity traps) but QEMU KVM only masks CPUID there: BMI1 BMI2 LZCNT MOVBE would run on the host CPU; use --accel auto or tcg');
    t.deepEqual(kvm.proofs, []);
  } finally {
    await removeScratch(scratch);
  }
});

test.serial("--accel kvm is refused on this host with KVM's reason: a skip, an error with --require-levels", async (t) => {
  const scratch = await scratchDir('kvm-refused');
  try {
    const prepared = await prepareRun(CATALOG, 'kvm');
    const choice = prepared.accel('v2');
    t.is(choice.accel, null);
    t.regex(choice.accel === null ? choice.skipReason : '', /^no accelerator provides v2 on this host — kvm: KVM (cannot provide this CPU|opens but cannot run guests|is not available|did not boot)/);
    const [cell] = planCells(CATALOG, { scenarios: ['arch-override'], targets: ['v2'], drivers: ['rpm'] });
    const env = { ...prepared, knownIssues: KNOWN_ISSUES, evidenceDir: scratch, today: '2026-12-01' };
    t.is((await runCell(cell!, env)).verdict, 'skip');
    const required = await runCell(cell!, { ...env, requireLevels: true });
    t.is(required.verdict, 'error');
    t.regex(required.reason, /^level v2 is required \(--require-levels\) but no accelerator provides v2 on this host — kvm: /);
  } finally {
    await removeScratch(scratch);
  }
});
