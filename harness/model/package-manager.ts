// The package managers' words the drivers and the scenarios share: their names, the
// repository formats they read, the operations and refusals, arch settings and pins.
import type { RpmArch } from '../levels/arch.js';

export const DRIVER_NAMES = ['dnf5', 'zypper', 'rpm', 'apt', 'pacman'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];

/** The metadata a tool reads: createrepo_c's repodata, an apt archive (dists/), or a pacman database (repo-add). */
export const REPO_FORMATS = ['rpm-md', 'apt', 'pacman'] as const;
export type RepoFormat = (typeof REPO_FORMATS)[number];
/** The repository format each driver's tool reads. */
export const DRIVER_FORMAT: Readonly<Record<DriverName, RepoFormat>> = { dnf5: 'rpm-md', zypper: 'rpm-md', rpm: 'rpm-md', apt: 'apt', pacman: 'pacman' };

/** The formats a scenario's fixture repositories are published in (one per kind of driver it runs with). */
export const formatsOf = (drivers: readonly DriverName[]): RepoFormat[] => REPO_FORMATS.filter((f) => drivers.some((d) => DRIVER_FORMAT[d] === f));

/**
 * install-new-recommends: install what installed packages newly recommend or what
 * newly supplements them, hardware (modalias) supplements included (zypper inr).
 */
export type Operation = 'install' | 'upgrade' | 'downgrade' | 'distro-sync' | 'remove' | 'install-new-recommends';

/** Why a package manager refused: what the scenario expects, and what the tool's message says. */
export const REFUSALS = ['incompatible-arch', 'not-found', 'conflict', 'dependency'] as const;
export type Refusal = (typeof REFUSALS)[number];

/**
 * What a scenario sets the tool's idea of the machine to: an arch (zypp.conf `arch =`,
 * /etc/rpm/platform, APT::Architecture-Variants "amd64v3", pacman `Architecture =
 * x86_64 x86_64_v3`), or 'default' to remove the setting (apt: no variants at all;
 * pacman: `auto`, which is uname).
 */
export type ArchSetting = RpmArch | 'default';

/** A package pinned the way users pin: dnf5 excludes the other arch; zypper locks the name (it has no arch lock). */
export interface PinSpec {
  readonly name: string;
  /** The arch the user keeps. */
  readonly arch: RpmArch;
}
