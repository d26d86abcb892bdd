import { defineScenario, detect, installFile, overrideArch, variants } from '../harness/index.js';

/**
 * The tools' own arch overrides (zypp.conf `arch =`, /etc/rpm/platform) win over what
 * they detect: set to x86_64_v3, the tool says so and installs the x86_64_v3 build —
 * which runs on a v3 CPU and dies of SIGILL on a v2 one, where only the override let it in.
 */
export default defineScenario({
  id: 'arch-override',
  title: "An arch override wins over detection: the tool installs what the CPU may not run",
  tags: ['detection', 'override', 'sigill'],
  drivers: ['zypper', 'rpm'],
  levels: ['v2', 'v3'],
  repos: { files: variants('lgover', '1.0', ['x86_64', 'x86_64_v3']) },
  steps: [
    overrideArch('x86_64_v3'),
    detect().expect({ detectedArch: 'x86_64_v3' }),
    installFile('files', 'lgover-1.0-1.x86_64_v3').expect(({ atLeast }) => ({ installed: { lgover: '1.0-1.x86_64_v3' }, ...(atLeast('v3') ? { runs: ['lgover'] } : { dies: ['lgover'] }) })),
  ],
});
