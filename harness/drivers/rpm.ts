// Plain rpm: no repositories and no solver; local files and detection only.
import type { PackageDriver } from './driver.js';

export const rpm: PackageDriver = {
  name: 'rpm',
  useRepos: () => [],
  operation: () => undefined,
  installFile: (file) => ({ argv: ['rpm', '-i', file] }),
  listUpdates: () => undefined,
  parseUpdates: () => [],
  detectArch: () => ({ argv: ['rpm', '--showrc'] }),
  parseDetectedArch: (stdout) => /^install arch\s*:\s*(\S+)/m.exec(stdout)?.[1],
  version: () => ({ argv: ['rpm', '--version'] }),
};
