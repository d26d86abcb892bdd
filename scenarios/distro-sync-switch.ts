import { best, defineScenario, distroSync, enable, install, variants } from '../harness/index.js';

/** distro-sync switches variants both ways: up when a variant appears, down when it disappears. */
export default defineScenario({
  id: 'distro-sync-switch',
  title: 'distro-sync switches between variants in both directions',
  tags: ['distro-sync', 'selection'],
  drivers: ['dnf5', 'zypper'],
  repos: { baseline: variants('lgsync', '1.0', ['x86_64']), mixed: variants('lgsync', '1.0', ['x86_64', 'x86_64_v3']) },
  steps: [
    enable('baseline'),
    install('lgsync').expect({ installed: { lgsync: '1.0-1.x86_64' } }),
    enable('mixed'),
    distroSync('lgsync').expect({ installed: { lgsync: best }, runs: ['lgsync'] }),
    enable('baseline'),
    distroSync('lgsync').expect({ installed: { lgsync: '1.0-1.x86_64' }, runs: ['lgsync'] }),
  ],
});
