import type { Scenario } from '../harness/scenario/types.js';
import { rpmArchOf } from './lib.js';

/** The tool's idea of the machine agrees with the pinned level (rpm's install arch, zypper's detected arch, dnf5's arch). */
const scenario: Scenario = {
  id: 'detection',
  title: 'Detected architecture agrees with the pinned level',
  tags: ['detection'],
  drivers: ['rpm', 'dnf5', 'zypper'],
  repos: {},
  steps: [{ kind: 'detect', expect: (level) => ({ detectedArch: rpmArchOf(level) }) }],
};
export default scenario;
