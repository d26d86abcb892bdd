import { best, defineScenario, downgrade, enable, install, upgrade, variants } from '../harness/index.js';

/**
 * x86_64 1.0 is installed; 1.1 arrives for x86_64 and x86_64_v3. Correct (the Fedora
 * proposal: v3 machines "automatically install x86_64_v3 packages when available"):
 * the upgrade brings 1.1 in the best variant. Then a downgrade returns to 1.0.
 */
export default defineScenario({
  id: 'upgrade-new-variant',
  title: 'Upgrade when a newer version appears with a variant build',
  tags: ['upgrade', 'downgrade', 'selection', 'fedora-45'],
  drivers: ['dnf5', 'zypper'],
  repos: { base: variants('lgnewvar', '1.0', ['x86_64']), updates: variants('lgnewvar', '1.1', ['x86_64', 'x86_64_v3']) },
  steps: [
    enable('base'),
    install('lgnewvar').expect({ installed: { lgnewvar: '1.0-1.x86_64' } }),
    enable('base', 'updates'),
    upgrade('lgnewvar').expect({ installed: { lgnewvar: best }, runs: ['lgnewvar'] }),
    downgrade('lgnewvar-1.0').expect({ installed: { lgnewvar: '1.0-1.x86_64' }, runs: ['lgnewvar'] }),
  ],
});
