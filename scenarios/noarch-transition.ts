import type { Scenario } from '../harness/scenario/types.js';
import { bestArch, prints, variants } from './lib.js';

const ARCHED = ['x86_64', 'x86_64_v3'] as const;

/** noarch 1.0 → arch-specific 1.1 (best variant) → noarch 1.2, by plain upgrades. */
const scenario: Scenario = {
  id: 'noarch-transition',
  title: 'noarch ↔ variant transitions across upgrades',
  tags: ['upgrade', 'noarch'],
  drivers: ['dnf5', 'zypper'],
  repos: { v10: variants('lgnoarch', '1.0', ['noarch']), v11: variants('lgnoarch', '1.1', ARCHED), v12: variants('lgnoarch', '1.2', ['noarch']) },
  steps: [
    { kind: 'repos', use: ['v10'] },
    { kind: 'operation', op: 'install', packages: ['lgnoarch'], expect: () => ({ succeeds: true, installed: { lgnoarch: '1.0-1.noarch' } }) },
    { kind: 'repos', use: ['v10', 'v11'] },
    {
      kind: 'operation',
      op: 'upgrade',
      packages: ['lgnoarch'],
      expect: (level) => ({ succeeds: true, installed: { lgnoarch: `1.1-1.${bestArch(level, ARCHED)}` }, runs: { lgnoarch: prints('lgnoarch', '1.1-1', bestArch(level, ARCHED)) } }),
    },
    { kind: 'repos', use: ['v10', 'v11', 'v12'] },
    { kind: 'operation', op: 'upgrade', packages: ['lgnoarch'], expect: () => ({ succeeds: true, installed: { lgnoarch: '1.2-1.noarch' }, runs: { lgnoarch: prints('lgnoarch', '1.2-1', 'noarch') } }) },
  ],
};
export default scenario;
