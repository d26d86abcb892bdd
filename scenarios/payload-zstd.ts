import { defineScenario, installFile, type PackageBuild } from '../harness/index.js';

const ZSTD: PackageBuild = { name: 'lgzstd', version: '1.0', arch: 'x86_64', payload: 'zstd' };
const GZIP: PackageBuild = { name: 'lggzip', version: '1.0', arch: 'x86_64', payload: 'gzip' };

/**
 * A baseline package installs and runs on every CPU, whatever its payload's
 * compression: zstd (what Fedora and openSUSE ship) and gzip. rpm unpacks the payload
 * with libzstd, whose decoder picks a BMI2 code path at run time; the near misses show
 * which CPUs that path assumes more of than it checks.
 */
export default defineScenario({
  id: 'payload-zstd',
  title: 'Package payloads unpack on every CPU: zstd and gzip',
  tags: ['payload', 'zstd', 'near-miss'],
  drivers: ['rpm'],
  nearMisses: true,
  repos: { files: [ZSTD, GZIP] },
  steps: [
    installFile('files', 'lgzstd-1.0-1.x86_64').expect({ installed: { lgzstd: '1.0-1.x86_64' }, runs: ['lgzstd'] }),
    installFile('files', 'lggzip-1.0-1.x86_64').expect({ installed: { lggzip: '1.0-1.x86_64' }, runs: ['lggzip'] }),
  ],
});
