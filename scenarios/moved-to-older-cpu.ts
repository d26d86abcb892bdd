import { best, defineScenario, distroSync, enable, install, moveTo, upgrade, variants } from '../harness/index.js';

/**
 * A disk installed on a vN machine boots on a v(N-1) CPU (a VM migrated to an older
 * host). The installed variant now dies with SIGILL — a fact of the CPU, which only a
 * trapping emulator shows. Correct: after any package operation on the moved disk,
 * every installed program runs (`upgrade` must not leave a variant the CPU cannot
 * run); `distro-sync` brings the best variant the new CPU runs. For apt the variants
 * come from "auto" (the moved disk's apt reads the new CPU's /proc/cpuinfo): upgrade is
 * `apt-get install --only-upgrade`, distro-sync `apt-get dist-upgrade`.
 */
export default defineScenario({
  id: 'moved-to-older-cpu',
  title: 'A disk moved to an older CPU, then upgrade and distro-sync',
  tags: ['migration', 'distro-sync', 'sigill'],
  drivers: ['dnf5', 'zypper', 'apt'],
  levels: ['v2', 'v3', 'v4'],
  repos: { main: variants('lgmove', '1.0', ['x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4']) },
  steps: [
    enable('main'),
    install('lgmove').expect({ installed: { lgmove: best } }),
    moveTo('one-below').expect({ dies: ['lgmove'] }),
    upgrade('lgmove').expect({ runnable: true }),
    distroSync('lgmove').expect({ installed: { lgmove: best }, runnable: true }),
  ],
});
