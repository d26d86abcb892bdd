import { defineScenario, detect } from '../harness/index.js';

/**
 * The detection oracle: every detector of the machine's level — the CPU model (CPUID),
 * the kernel's cpuinfo and CPU modalias, glibc's hwcaps, rpm's install arch, libzypp's
 * system architecture, dnf5's $arch and $basearch — must conclude the level the CPU
 * really meets, on every exact level and (--near-misses) every CPU one feature short of
 * a level. The detectors do not depend on the driver: one cell per CPU.
 */
export default defineScenario({
  id: 'detection',
  title: "Every detector of the machine's level agrees with the level the CPU meets",
  tags: ['detection'],
  drivers: ['rpm'],
  nearMisses: true,
  steps: [detect().expect({ detectors: 'level' })],
});
