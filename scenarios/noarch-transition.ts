import { best, defineScenario, enable, install, upgrade, variants } from '../harness/index.js';

/** noarch 1.0 → arch-specific 1.1 (best variant) → noarch 1.2, by plain upgrades. */
export default defineScenario({
  id: 'noarch-transition',
  title: 'noarch ↔ variant transitions across upgrades',
  tags: ['upgrade', 'noarch'],
  drivers: ['dnf5', 'zypper'],
  repos: { v10: variants('lgnoarch', '1.0', ['noarch']), v11: variants('lgnoarch', '1.1', ['x86_64', 'x86_64_v3']), v12: variants('lgnoarch', '1.2', ['noarch']) },
  steps: [
    enable('v10'),
    install('lgnoarch').expect({ installed: { lgnoarch: '1.0-1.noarch' } }),
    enable('v10', 'v11'),
    upgrade('lgnoarch').expect({ installed: { lgnoarch: best }, runs: ['lgnoarch'] }),
    enable('v10', 'v11', 'v12'),
    upgrade('lgnoarch').expect({ installed: { lgnoarch: '1.2-1.noarch' }, runs: ['lgnoarch'] }),
  ],
});
