import { best, defineScenario, enable, install, listUpdates, upgrade, variants } from '../harness/index.js';

/**
 * The silent stale case: 1.0 is installed in the best variant; 1.1 is built only for
 * x86_64. Correct: the update is listed and `upgrade` installs 1.1.
 */
export default defineScenario({
  id: 'upgrade-baseline-only',
  title: 'Upgrade when the newer version exists only for x86_64',
  tags: ['upgrade', 'stale'],
  drivers: ['dnf5', 'zypper'],
  repos: { base: variants('lgstale', '1.0', ['x86_64', 'x86_64_v3']), updates: variants('lgstale', '1.1', ['x86_64']) },
  steps: [
    enable('base'),
    install('lgstale').expect({ installed: { lgstale: best } }),
    enable('base', 'updates'),
    listUpdates().expect({ updatesListed: ['lgstale'] }),
    upgrade('lgstale').expect({ installed: { lgstale: best }, current: ['lgstale'], runs: ['lgstale'] }),
  ],
});
