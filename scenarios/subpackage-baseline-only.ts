import type { Scenario } from '../harness/scenario/types.js';
import { bestArch, variants } from './lib.js';

const MAIN = ['x86_64', 'x86_64_v3'] as const;

/** A variant package whose subpackage is built only for x86_64: install and update both. */
const scenario: Scenario = {
  id: 'subpackage-baseline-only',
  title: 'A subpackage built only for x86_64 does not stall the update',
  tags: ['install', 'upgrade', 'subpackage', 'stale'],
  drivers: ['dnf5', 'zypper'],
  repos: {
    base: [...variants('lgsub', '1.0', MAIN, { requires: ['lgsub-libs = 1.0-1'] }), ...variants('lgsub-libs', '1.0', ['x86_64'])],
    updates: [...variants('lgsub', '1.1', MAIN, { requires: ['lgsub-libs = 1.1-1'] }), ...variants('lgsub-libs', '1.1', ['x86_64'])],
  },
  steps: [
    { kind: 'repos', use: ['base'] },
    {
      kind: 'operation',
      op: 'install',
      packages: ['lgsub'],
      expect: (level) => ({ succeeds: true, installed: { lgsub: `1.0-1.${bestArch(level, MAIN)}`, 'lgsub-libs': '1.0-1.x86_64' } }),
    },
    { kind: 'repos', use: ['base', 'updates'] },
    {
      kind: 'operation',
      op: 'upgrade',
      packages: ['lgsub', 'lgsub-libs'],
      expect: (level) => ({ succeeds: true, installed: { lgsub: `1.1-1.${bestArch(level, MAIN)}`, 'lgsub-libs': '1.1-1.x86_64' }, notStale: ['lgsub', 'lgsub-libs'] }),
    },
  ],
};
export default scenario;
