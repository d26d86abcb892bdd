import { defineScenario, distroSync, enable, install, pin, upgrade, variants } from '../harness/index.js';

/**
 * A user keeps the baseline build of one package, pinned the way each tool lets users
 * pin: dnf5 excludes the package's other arches (it then still takes newer x86_64
 * versions); zypper can only lock the package as installed (libzypp: no arch locks
 * "with zypper means"), which also holds its version. Correct: the pin itself holds
 * (asked for the x86_64_v3 build by name, the tool refuses it for the pin: dnf5's
 * exclusion, zypper's lock), and it holds through a whole-system upgrade and
 * distro-sync, which would otherwise switch the variant. The first check is what makes
 * the dnf5 cells mean something: dnf5 5.4 never takes x86_64_v3 by itself, pinned or not.
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
    // The pin itself: dnf5 refuses the excluded build everywhere; zypper's lock refuses it where the CPU runs it (below v3 the arch does).
    install('lgpin.x86_64_v3').expect(({ driver, atLeast }) => ({ refused: driver === 'zypper' && !atLeast('v3') ? 'not-found' : 'conflict', installed: { lgpin: '1.0-1.x86_64' } })),
    enable('base', 'updates'),
    upgrade().expect(({ driver }) => ({ installed: { lgpin: driver === 'zypper' ? '1.0-1.x86_64' : '1.1-1.x86_64' }, runs: ['lgpin'] })),
    distroSync().expect(({ driver }) => ({ installed: { lgpin: driver === 'zypper' ? '1.0-1.x86_64' : '1.1-1.x86_64' }, runs: ['lgpin'] })),
  ],
});
