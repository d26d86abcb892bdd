import type { Scenario } from '../harness/scenario/types.js';
import { prints, variants } from './lib.js';

const BOTH = ['x86_64', 'x86_64_v3'] as const;

/** An explicit `NAME.x86_64` install on any machine, and the pin sticks through an upgrade. */
const scenario: Scenario = {
  id: 'arch-pin',
  title: 'An explicit x86_64 pin is honoured and sticks through an upgrade',
  tags: ['install', 'upgrade', 'pin'],
  drivers: ['dnf5', 'zypper'],
  repos: { base: variants('lgpin', '1.0', BOTH), updates: variants('lgpin', '1.1', BOTH) },
  steps: [
    { kind: 'repos', use: ['base'] },
    { kind: 'operation', op: 'install', packages: ['lgpin.x86_64'], expect: () => ({ succeeds: true, installed: { lgpin: '1.0-1.x86_64' } }) },
    { kind: 'repos', use: ['base', 'updates'] },
    { kind: 'operation', op: 'upgrade', packages: ['lgpin'], expect: () => ({ succeeds: true, installed: { lgpin: '1.1-1.x86_64' }, runs: { lgpin: prints('lgpin', '1.1-1', 'x86_64') } }) },
  ],
};
export default scenario;
