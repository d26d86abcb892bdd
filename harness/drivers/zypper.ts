// zypper: repositories added by URI and refreshed; distro-sync is `dist-upgrade`
// (system-wide: each cell's guest holds only its own scenario's repositories).
import type { PackageDriver } from './driver.js';

const BASE = ['zypper', '--non-interactive', '--no-gpg-checks'];

export const zypper: PackageDriver = {
  name: 'zypper',
  useRepos: (repos) => [
    { argv: [...BASE, 'removerepo', '--all'] },
    ...repos.map((repo) => ({ argv: [...BASE, 'addrepo', '--no-gpgcheck', `file://${repo.path}`, repo.id] })),
    { argv: [...BASE, 'refresh'] },
  ],
  operation: (op, packages) => {
    switch (op) {
      case 'install':
        return { argv: [...BASE, 'install', ...packages] };
      case 'upgrade':
        return { argv: [...BASE, 'update', ...packages] };
      case 'downgrade':
        return { argv: [...BASE, 'install', '--oldpackage', ...packages] };
      case 'distro-sync':
        return { argv: [...BASE, 'dist-upgrade'] };
      case 'remove':
        return { argv: [...BASE, 'remove', ...packages] };
    }
  },
  installFile: (file) => ({ argv: [...BASE, 'install', file] }),
  listUpdates: () => ({ argv: [...BASE, 'list-updates'] }),
  // Table rows: "v | REPO | NAME | CURRENT | AVAILABLE | ARCH".
  parseUpdates: (stdout) =>
    [...new Set(stdout.split('\n').flatMap((l) => /^v\s*\|\s*\S+\s*\|\s*(\S+)\s*\|/.exec(l)?.slice(1, 2) ?? []))].sort(),
  // libzypp logs the architecture it detected whenever it starts.
  detectArch: () => ({ argv: ['sh', '-c', 'zypper --non-interactive repos >/dev/null 2>&1; grep -h "_autoDetectSystemArchitecture\\|architecture upgraded" /var/log/zypper.log | tail -n 1'] }),
  // "CPU has 'x86_64': architecture upgraded to 'x86_64_v3'", or on a baseline CPU only
  // "Uname architecture is 'x86_64'".
  parseDetectedArch: (stdout) => /architecture upgraded to '([^']+)'/.exec(stdout)?.[1] ?? /Uname architecture is '([^']+)'/.exec(stdout)?.[1],
  version: () => ({ argv: ['zypper', '--version'] }),
};
