import { defineScenario, detect, rpmArchOf } from '../harness/index.js';

/**
 * The detection oracle: every detector of the machine's level the proof does not
 * already read — the kernel's CPU modalias, rpm's install arch, libzypp's system
 * architecture, dnf5's $arch and $basearch, apt's variants under "auto" (with the
 * guest's psABI varianttable, and with apt's own test table), pacman's Architecture —
 * must conclude the level the CPU really meets, on every
 * exact level and (--near-misses) every CPU one feature short of a level. The CPU
 * model's own CPUID must show the level it was pinned to: the level it meets, or for a
 * near miss made by the OS (the kernel leaves a feature off) the level of the model —
 * except where the bit left off is OSXSAVE, the one CPUID bit the OS itself sets
 * (CR4.OSXSAVE): CPUID then shows the level the CPU meets.
 * The detectors do not depend on the driver: one cell per CPU.
 *
 * The kernel's cpuinfo flags and glibc's hwcaps are not checked here: they are the
 * level proof itself (harness/levels/proof.ts), so a guest where they disagree with
 * the level never reaches this step — a check of them here could not fail. Every
 * cell's facts still record their answers.
 */
export default defineScenario({
  id: 'detection',
  title: "Every detector of the machine's level agrees with the level the CPU meets",
  tags: ['detection'],
  drivers: ['rpm'],
  nearMisses: true,
  steps: [
    detect().expect(({ target }) => ({
      detectors: {
        cpuid: target.nearMiss?.by === 'os' && target.nearMiss.missing.psabi !== 'OSXSAVE' ? rpmArchOf(target.nearMiss.of) : 'level',
        modalias: 'level',
        rpm: 'level',
        libzypp: 'level',
        'dnf5-arch': 'level',
        'dnf5-basearch': 'level',
        'apt-variants': 'level',
        'apt-test-table': 'level',
        'pacman-arch': 'level',
      },
    })),
  ],
});
