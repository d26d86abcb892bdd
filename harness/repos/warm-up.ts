// What a snapshot does before it is saved so that cells start with warm package-manager
// caches: the attached repositories' in both tools (a compose's metadata takes minutes to
// parse under emulation), and zypper's raw and solv caches of the fixture repositories the
// run's zypper cells enable. Each is loaded under the ids and paths the cells give them,
// and the repository files go again. The content cannot differ from what the cells see:
// the snapshot's key includes the data disks that hold the repositories.
import path from 'node:path';
import { DNF5_LAYOUT, DNF5_REPO_FILE, dnf5 } from '../drivers/dnf5.js';
import type { RepoRef } from '../drivers/driver.js';
import type { GuestCommand } from '../model/guest.js';
import { exists } from '../host/cache.js';
import { ZYPPER_REPO_FILE, zypper } from '../drivers/zypper.js';
import type { Scenario } from '../scenario/types.js';
import { guestAttachedPath, guestRepoPath, repoId, type AttachedRepo, type RepoCatalog } from './catalog.js';

/**
 * zypper's caches of `refs` built, one refresh per repository (so the snapshot's limit per
 * command bounds one repository's cache, not all of them on a loaded host), and its
 * repository file removed again.
 */
function zypperCaches(refs: readonly RepoRef[]): GuestCommand[] {
  const setup = zypper.configureRepos(refs);
  const refresh = setup.refresh;
  return [...setup.commands, ...(refresh ? refs.map((r) => ({ argv: [...refresh.argv, r.id] })) : []), { argv: ['rm', '-f', ZYPPER_REPO_FILE] }];
}

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

/**
 * The fixture repositories (rpm-md, on the host) of the scenarios that have zypper cells,
 * as those cells name them. A cell's `zypper refresh` then finds their caches up to date
 * instead of building them (BENCHMARKS.md, "solver caches"). dnf5's are not warmed: the
 * cells set metadata_expire=0, and a warm dnf5 cache saved little over its start. A name
 * with $releasever is left to its cells (its content depends on the release they ask).
 */
export async function zypperFixtureRepos(scenarios: readonly Scenario[], catalog: RepoCatalog): Promise<RepoRef[]> {
  const refs = new Map<string, RepoRef>();
  for (const scenario of scenarios) {
    if (!scenario.drivers.includes('zypper')) continue;
    for (const [name, spec] of Object.entries(scenario.repos)) {
      const dir = spec.kind === 'fixture' && !name.includes('$releasever') ? catalog.hostDir(scenario, name) : undefined;
      if (!dir || !(await exists(path.join(dir, 'repodata', 'repomd.xml')))) continue;
      const id = repoId(scenario.id, name);
      refs.set(id, { id, path: guestRepoPath(scenario, name, spec) });
    }
  }
  return [...refs.values()];
}

export async function fixtureRepoWarmUp(scenarios: readonly Scenario[], catalog: RepoCatalog): Promise<GuestCommand[]> {
  const refs = await zypperFixtureRepos(scenarios, catalog);
  return refs.length === 0 ? [] : zypperCaches(refs);
}
