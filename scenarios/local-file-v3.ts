import { defineScenario, installFile, variants } from '../harness/index.js';

/** Installing an x86_64_v3 rpm file: accepted on v3 and above, refused below for its architecture. */
export default defineScenario({
  id: 'local-file-v3',
  title: 'Local-file install of an x86_64_v3 rpm',
  tags: ['install', 'local-file'],
  drivers: ['rpm', 'dnf5', 'zypper'],
  repos: { files: variants('lglocal', '1.0', ['x86_64_v3']) },
  steps: [
    installFile('files', 'lglocal-1.0-1.x86_64_v3').expect(({ atLeast }) =>
      atLeast('v3') ? { installed: { lglocal: '1.0-1.x86_64_v3' }, runs: ['lglocal'] } : { refused: 'incompatible-arch', installed: { lglocal: null } },
    ),
  ],
});
