import type { Scenario } from '../harness/scenario/types.js';
import { bestArch, prints, variants } from './lib.js';

const BOTH = ['x86_64', 'x86_64_v3'] as const;

/** distro-sync switches variants both ways: up when a variant appears, down when it disappears. */
const scenario: Scenario = {
  id: 'distro-sync-switch',
  title: 'distro-sync switches between variants in both directions',
  tags: ['distro-sync', 'selection'],
  drivers: ['dnf5', 'zypper'],
  repos: { baseline: variants('lgsync', '1.0', ['x86_64']), mixed: variants('lgsync', '1.0', BOTH) },
  steps: [
    { kind: 'repos', use: ['baseline'] },
    { kind: 'operation', op: 'install', packages: ['lgsync'], expect: () => ({ succeeds: true, installed: { lgsync: '1.0-1.x86_64' } }) },
    { kind: 'repos', use: ['mixed'] },
    {
      kind: 'operation',
      op: 'distro-sync',
      packages: ['lgsync'],
      expect: (level) => ({ succeeds: true, installed: { lgsync: `1.0-1.${bestArch(level, BOTH)}` }, runs: { lgsync: prints('lgsync', '1.0-1', bestArch(level, BOTH)) } }),
    },
    { kind: 'repos', use: ['baseline'] },
    { kind: 'operation', op: 'distro-sync', packages: ['lgsync'], expect: () => ({ succeeds: true, installed: { lgsync: '1.0-1.x86_64' }, runs: { lgsync: prints('lgsync', '1.0-1', 'x86_64') } }) },
  ],
};
export default scenario;
