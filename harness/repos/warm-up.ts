// What a snapshot does before it is saved so that cells start with warm package-manager
// caches of the attached repositories (a compose's metadata takes minutes to parse under
// emulation): both tools load them once, under the ids every scenario uses for them, and
// the repository files go again. The content cannot differ from what the cells see: the
// snapshot's key includes the disk of attached repositories.
import { DNF5_LAYOUT, DNF5_REPO_FILE, dnf5 } from '../drivers/dnf5.js';
import type { GuestCommand } from '../model/guest.js';
import { ZYPPER_REPO_FILE, zypper } from '../drivers/zypper.js';
import { guestAttachedPath, type AttachedRepo } from './catalog.js';

export function attachedRepoWarmUp(repos: readonly AttachedRepo[]): GuestCommand[] {
  if (repos.length === 0) return [];
  const refs = repos.map((r) => ({ id: r.name, path: guestAttachedPath(r.name) }));
  const zypperSetup = zypper.configureRepos(refs);
  return [
    ...dnf5.configureRepos(refs).commands,
    { argv: ['dnf5', '--releasever=sid', ...DNF5_LAYOUT, 'makecache'] },
    ...zypperSetup.commands,
    ...(zypperSetup.refresh ? [zypperSetup.refresh] : []),
    { argv: ['rm', '-f', DNF5_REPO_FILE, ZYPPER_REPO_FILE] },
  ];
}
