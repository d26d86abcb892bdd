import { best, defineScenario, enable, install, variants } from '../harness/index.js';

/**
 * The v3 build lags behind: 1.0 exists for x86_64 and x86_64_v3, 1.1 only for x86_64.
 * Correct: every machine gets 1.1, the newest version it runs (in the best arch 1.1 has).
 */
export default defineScenario({
  id: 'variant-lags-baseline',
  title: 'A variant build that lags behind the baseline does not hold the machine back',
  tags: ['install', 'stale'],
  drivers: ['dnf5', 'zypper', 'apt'],
  repos: { main: [...variants('lglag', '1.0', ['x86_64', 'x86_64_v3']), ...variants('lglag', '1.1', ['x86_64'])] },
  steps: [enable('main'), install('lglag').expect({ installed: { lglag: best }, current: ['lglag'], runs: ['lglag'] })],
});
