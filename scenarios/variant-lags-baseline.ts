import type { Scenario } from '../harness/scenario/types.js';
import { variants } from './lib.js';

/**
 * The v3 build lags behind: 1.0 exists for x86_64 and x86_64_v3, 1.1 only for x86_64.
 * Correct: every machine gets 1.1 (the newest it can run). libsolv prunes to the best
 * arch before the best version, so a v3 machine gets the older v3 1.0.
 */
const scenario: Scenario = {
  id: 'variant-lags-baseline',
  title: 'A variant build that lags behind the baseline does not hold the machine back',
  tags: ['install', 'stale'],
  drivers: ['dnf5', 'zypper'],
  repos: { main: [...variants('lglag', '1.0', ['x86_64', 'x86_64_v3']), ...variants('lglag', '1.1', ['x86_64'])] },
  steps: [
    { kind: 'repos', use: ['main'] },
    { kind: 'operation', op: 'install', packages: ['lglag'], expect: () => ({ succeeds: true, installed: { lglag: '1.1-1.x86_64' }, notStale: ['lglag'] }) },
  ],
};
export default scenario;
