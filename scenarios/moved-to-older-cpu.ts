import type { Scenario } from '../harness/scenario/types.js';
import { ALL_ARCHES, bestArch, oneBelow, prints, rpmArchOf, variants } from './lib.js';

/**
 * A disk installed on a vN machine boots on a v(N-1) CPU (a VM migrated to an older
 * host). The installed variant now dies with SIGILL; `upgrade` keeps it (it never
 * switches arch); `distro-sync` replaces it with the variant the new CPU runs.
 */
const scenario: Scenario = {
  id: 'moved-to-older-cpu',
  title: 'A disk moved to an older CPU, then upgrade and distro-sync',
  tags: ['migration', 'distro-sync', 'sigill'],
  drivers: ['dnf5', 'zypper'],
  levels: ['v2', 'v3', 'v4'],
  repos: { main: variants('lgmove', '1.0', ALL_ARCHES) },
  steps: [
    { kind: 'repos', use: ['main'] },
    { kind: 'operation', op: 'install', packages: ['lgmove'], expect: (level) => ({ succeeds: true, installed: { lgmove: `1.0-1.${rpmArchOf(level)}` } }) },
    { kind: 'move-to', level: 'one-below', expect: () => ({ runs: { lgmove: 'sigill' } }) },
    { kind: 'operation', op: 'upgrade', packages: ['lgmove'], expect: (level) => ({ succeeds: true, installed: { lgmove: `1.0-1.${rpmArchOf(level)}` } }) },
    {
      kind: 'operation',
      op: 'distro-sync',
      packages: ['lgmove'],
      expect: (level) => ({
        succeeds: true,
        installed: { lgmove: `1.0-1.${bestArch(oneBelow(level), ALL_ARCHES)}` },
        runs: { lgmove: prints('lgmove', '1.0-1', bestArch(oneBelow(level), ALL_ARCHES)) },
      }),
    },
  ],
};
export default scenario;
