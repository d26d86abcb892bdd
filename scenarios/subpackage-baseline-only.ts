import { best, defineScenario, enable, install, upgrade, variants } from '../harness/index.js';

/**
 * A main package built for x86_64 and x86_64_v3 requires its -libs subpackage (x86_64
 * only) at exactly its own version. Version 1.1 is built only for x86_64 (the v3
 * build lags). On a v3 machine the v3 main package holds the subpackage back: taking
 * libs 1.1 needs main 1.1, which is another arch. Correct: `upgrade` brings both to
 * 1.1 (the newest version the CPU runs), not a silent stall at 1.0.
 */
export default defineScenario({
  id: 'subpackage-baseline-only',
  title: 'A subpackage built only for x86_64 does not stall the update',
  tags: ['install', 'upgrade', 'subpackage', 'stale'],
  drivers: ['dnf5', 'zypper'],
  repos: {
    base: [...variants('lgsub', '1.0', ['x86_64', 'x86_64_v3'], { requires: ['lgsub-libs = 1.0-1'] }), ...variants('lgsub-libs', '1.0', ['x86_64'], { kind: 'none' })],
    updates: [...variants('lgsub', '1.1', ['x86_64'], { requires: ['lgsub-libs = 1.1-1'] }), ...variants('lgsub-libs', '1.1', ['x86_64'], { kind: 'none' })],
  },
  steps: [
    enable('base'),
    install('lgsub').expect({ installed: { lgsub: best, 'lgsub-libs': '1.0-1.x86_64' } }),
    enable('base', 'updates'),
    upgrade().expect({ installed: { lgsub: best, 'lgsub-libs': best }, current: ['lgsub', 'lgsub-libs'], runnable: true }),
  ],
});
