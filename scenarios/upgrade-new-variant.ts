import type { Scenario } from '../harness/scenario/types.js';
import { bestArch, prints, variants } from './lib.js';

const NEW = ['x86_64', 'x86_64_v3'] as const;

/**
 * x86_64 1.0 is installed; 1.1 arrives for x86_64 and x86_64_v3. Correct (the Fedora
 * proposal: v3 machines "automatically install x86_64_v3 packages when available"):
 * the upgrade brings 1.1 in the best variant. Then a downgrade returns to 1.0.
 */
const scenario: Scenario = {
  id: 'upgrade-new-variant',
  title: 'Upgrade when a newer version appears with a variant build',
  tags: ['upgrade', 'downgrade', 'selection', 'fedora-45'],
  drivers: ['dnf5', 'zypper'],
  repos: { base: variants('lgnewvar', '1.0', ['x86_64']), updates: variants('lgnewvar', '1.1', NEW) },
  steps: [
    { kind: 'repos', use: ['base'] },
    { kind: 'operation', op: 'install', packages: ['lgnewvar'], expect: () => ({ succeeds: true, installed: { lgnewvar: '1.0-1.x86_64' } }) },
    { kind: 'repos', use: ['base', 'updates'] },
    {
      kind: 'operation',
      op: 'upgrade',
      packages: ['lgnewvar'],
      expect: (level) => ({
        succeeds: true,
        installed: { lgnewvar: `1.1-1.${bestArch(level, NEW)}` },
        runs: { lgnewvar: prints('lgnewvar', '1.1-1', bestArch(level, NEW)) },
      }),
    },
    { kind: 'operation', op: 'downgrade', packages: ['lgnewvar-1.0'], expect: () => ({ succeeds: true, installed: { lgnewvar: '1.0-1.x86_64' } }) },
  ],
};
export default scenario;
