import type { Scenario } from '../harness/scenario/types.js';
import { bestArch, variants } from './lib.js';

const OLD = ['x86_64', 'x86_64_v3'] as const;

/**
 * The silent stale case: 1.0 is installed in the best variant; 1.1 is built only for
 * x86_64. Correct: the update is listed and `upgrade` installs 1.1. libsolv treats the
 * switch from x86_64_v3 as an arch change: "Nothing to do", exit 0, nothing listed.
 */
const scenario: Scenario = {
  id: 'upgrade-baseline-only',
  title: 'Upgrade when the newer version exists only for x86_64',
  tags: ['upgrade', 'stale'],
  drivers: ['dnf5', 'zypper'],
  repos: { base: variants('lgstale', '1.0', OLD), updates: variants('lgstale', '1.1', ['x86_64']) },
  steps: [
    { kind: 'repos', use: ['base'] },
    { kind: 'operation', op: 'install', packages: ['lgstale'], expect: (level) => ({ succeeds: true, installed: { lgstale: `1.0-1.${bestArch(level, OLD)}` } }) },
    { kind: 'repos', use: ['base', 'updates'] },
    { kind: 'list-updates', expect: () => ({ updatesListed: ['lgstale'] }) },
    { kind: 'operation', op: 'upgrade', packages: ['lgstale'], expect: () => ({ succeeds: true, installed: { lgstale: '1.1-1.x86_64' }, notStale: ['lgstale'] }) },
  ],
};
export default scenario;
