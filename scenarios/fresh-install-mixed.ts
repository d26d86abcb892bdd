import type { Scenario } from '../harness/scenario/types.js';
import { ALL_ARCHES, bestArch, prints, variants } from './lib.js';

const PARTIAL = ['x86_64', 'x86_64_v3'] as const;

/** A mixed repository (every variant, or only some): a fresh install takes the best variant the CPU runs. */
const scenario: Scenario = {
  id: 'fresh-install-mixed',
  title: 'Fresh install from a mixed repository picks the highest compatible variant',
  tags: ['install', 'selection', 'fedora-45'],
  drivers: ['dnf5', 'zypper'],
  repos: { main: [...variants('lgmixed', '1.0', ALL_ARCHES), ...variants('lgpartial', '1.0', PARTIAL)] },
  steps: [
    { kind: 'repos', use: ['main'] },
    {
      kind: 'operation',
      op: 'install',
      packages: ['lgmixed', 'lgpartial'],
      expect: (level) => ({
        succeeds: true,
        installed: { lgmixed: `1.0-1.${bestArch(level, ALL_ARCHES)}`, lgpartial: `1.0-1.${bestArch(level, PARTIAL)}` },
        runs: { lgmixed: prints('lgmixed', '1.0-1', bestArch(level, ALL_ARCHES)), lgpartial: prints('lgpartial', '1.0-1', bestArch(level, PARTIAL)) },
      }),
    },
    { kind: 'operation', op: 'remove', packages: ['lgmixed'], expect: () => ({ succeeds: true, installed: { lgmixed: null } }) },
  ],
};
export default scenario;
