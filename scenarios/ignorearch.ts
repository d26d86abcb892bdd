import { best, defineScenario, distroSync, enable, install, installFile, variants } from '../harness/index.js';

/**
 * A user forces the x86_64_v3 build in beside the installed x86_64 one on a v2 CPU
 * (`rpm -i --ignorearch --replacefiles`): rpm keeps both in its database and the v3
 * program on disk, which dies. What the package manager does next must leave one
 * variant the CPU runs: distro-sync is the documented repair.
 */
export default defineScenario({
  id: 'ignorearch-both-variants',
  title: 'rpm --ignorearch puts both variants on disk; distro-sync must repair it',
  tags: ['ignorearch', 'distro-sync', 'sigill'],
  drivers: ['dnf5', 'zypper'],
  levels: ['v2'],
  repos: { main: variants('lgdual', '1.0', ['x86_64', 'x86_64_v3']) },
  steps: [
    enable('main'),
    install('lgdual').expect({ installed: { lgdual: best }, runs: ['lgdual'] }),
    installFile('main', 'lgdual-1.0-1.x86_64_v3', { rpm: ['--ignorearch', '--replacefiles'] }).expect({ installed: { lgdual: ['1.0-1.x86_64', '1.0-1.x86_64_v3'] }, dies: ['lgdual'] }),
    distroSync('lgdual').expect({ installed: { lgdual: best }, runnable: true }),
  ],
});
