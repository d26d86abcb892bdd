// dnf5: repositories as .repo files in a directory of their own; every operation by name.
import type { PackageDriver, RepoRef } from './driver.js';

// dnf5's default repository directory: the cell's guest holds no other repositories.
const REPOS_DIR = '/etc/yum.repos.d';
// Debian sid has no VERSION_ID for dnf5 to take $releasever from.
const BASE = ['dnf5', '-y', '--releasever=sid', '--setopt=install_weak_deps=False'];

export function dnf5RepoFile(repo: RepoRef): string {
  return `[${repo.id}]\nname=${repo.id}\nbaseurl=file://${repo.path}\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\n`;
}

export const dnf5: PackageDriver = {
  name: 'dnf5',
  useRepos: (repos) => [
    { argv: ['rm', '-rf', REPOS_DIR] },
    { argv: ['mkdir', '-p', REPOS_DIR] },
    ...repos.map((repo) => ({ argv: ['tee', `${REPOS_DIR}/${repo.id}.repo`], input: dnf5RepoFile(repo) })),
    { argv: ['dnf5', '--releasever=sid', 'clean', 'all'] },
  ],
  operation: (op, packages) => ({ argv: [...BASE, op, ...packages] }),
  installFile: (file) => ({ argv: [...BASE, 'install', file] }),
  listUpdates: () => ({ argv: [...BASE, 'check-upgrade'], okStatuses: [100] }),
  // Lines of "NAME.ARCH  VERSION-RELEASE  REPO" after the metadata banner.
  parseUpdates: (stdout) =>
    [...new Set(stdout.split('\n').flatMap((l) => /^(\S+)\.(noarch|x86_64(?:_v\d)?)\s+\S+\s+\S+\s*$/.exec(l.trim())?.slice(1, 2) ?? []))].sort(),
  detectArch: () => ({ argv: ['dnf5', '--releasever=sid', '--dump-variables'] }),
  parseDetectedArch: (stdout) => /^arch\s*=\s*(\S+)/m.exec(stdout)?.[1],
  version: () => ({ argv: ['dnf5', '--version'] }),
};
