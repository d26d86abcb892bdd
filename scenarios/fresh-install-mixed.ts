import { best, defineScenario, enable, install, remove, variants } from '../harness/index.js';

/**
 * A mixed repository (every variant, or only some): a fresh install takes the best
 * variant the CPU runs. For apt it is an archive as Ubuntu's: one index per variant
 * listed in Release `Architectures:` (standalone), APT::Architecture-Variants "auto".
 */
export default defineScenario({
  id: 'fresh-install-mixed',
  title: 'Fresh install from a mixed repository picks the highest compatible variant',
  tags: ['install', 'selection', 'fedora-45'],
  drivers: ['dnf5', 'zypper', 'apt'],
  // CPUs with every v3 bit in CPUID whose OS leaves the AVX state off: they meet v2, and what a detector that reads only CPUID installs there dies.
  nearMisses: ['v3-noavxstate', 'v3-noxsave'],
  repos: {
    main: [...variants('lgmixed', '1.0', ['x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4']), ...variants('lgpartial', '1.0', ['x86_64', 'x86_64_v3'])],
  },
  steps: [
    enable('main'),
    install('lgmixed', 'lgpartial').expect({ installed: { lgmixed: best, lgpartial: best }, runs: ['lgmixed', 'lgpartial'] }),
    remove('lgmixed').expect({ installed: { lgmixed: null } }),
  ],
});
