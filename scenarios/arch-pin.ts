import { defineScenario, distroSync, enable, install, pin, upgrade, variants } from '../harness/index.js';

/**
 * A user keeps the baseline build of one package, pinned the way each tool lets users
 * pin: dnf5 excludes the package's other arches (it then still takes newer x86_64
 * versions); zypper can only lock the package as installed (libzypp: no arch locks
 * "with zypper means"), which also holds its version. Correct: the pin holds through
 * a whole-system upgrade and distro-sync, which would otherwise switch the variant.
 */
export default defineScenario({
  id: 'arch-pin',
  title: 'A package pinned to x86_64 stays x86_64 through upgrade and distro-sync',
  tags: ['install', 'upgrade', 'pin'],
  drivers: ['dnf5', 'zypper'],
  repos: { base: variants('lgpin', '1.0', ['x86_64', 'x86_64_v3']), updates: variants('lgpin', '1.1', ['x86_64', 'x86_64_v3']) },
  steps: [
    enable('base'),
    install('lgpin.x86_64').expect({ installed: { lgpin: '1.0-1.x86_64' } }),
    pin('lgpin', 'x86_64'),
    enable('base', 'updates'),
    upgrade().expect(({ driver }) => ({ installed: { lgpin: driver === 'zypper' ? '1.0-1.x86_64' : '1.1-1.x86_64' }, runs: ['lgpin'] })),
    distroSync().expect(({ driver }) => ({ installed: { lgpin: driver === 'zypper' ? '1.0-1.x86_64' : '1.1-1.x86_64' }, runs: ['lgpin'] })),
  ],
});
