import { levelIndex } from '../harness/levels/table.js';
import type { Scenario } from '../harness/scenario/types.js';
import { prints, variants } from './lib.js';

/** Installing an x86_64_v3 rpm file: accepted on v3 and above, refused below. */
const scenario: Scenario = {
  id: 'local-file-v3',
  title: 'Local-file install of an x86_64_v3 rpm',
  tags: ['install', 'local-file'],
  drivers: ['rpm', 'dnf5', 'zypper'],
  repos: { files: variants('lglocal', '1.0', ['x86_64_v3']) },
  steps: [
    {
      kind: 'install-file',
      repo: 'files',
      nevra: 'lglocal-1.0-1.x86_64_v3',
      expect: (level) =>
        levelIndex(level) >= levelIndex('v3')
          ? { succeeds: true, installed: { lglocal: '1.0-1.x86_64_v3' }, runs: { lglocal: prints('lglocal', '1.0-1', 'x86_64_v3') } }
          : { succeeds: false, installed: { lglocal: null } },
    },
  ],
};
export default scenario;
