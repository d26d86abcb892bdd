// The public scenario API: what a scenario file (levelgate's own catalog, or a user's
// project) writes. A scenario reads as given (repositories) / when (steps) / then
// (expectations):
//
//   export default defineScenario({
//     id: 'upgrade-new-variant',
//     title: 'Upgrade when a newer version appears with a variant build',
//     drivers: ['dnf5', 'zypper'],
//     repos: { base: variants('lgnewvar', '1.0', ['x86_64']), updates: variants('lgnewvar', '1.1', ['x86_64', 'x86_64_v3']) },
//     steps: [
//       enable('base'),
//       install('lgnewvar').expect({ installed: { lgnewvar: '1.0-1.x86_64' } }),
//       enable('base', 'updates'),
//       upgrade('lgnewvar').expect({ installed: { lgnewvar: best }, runs: ['lgnewvar'] }),
//     ],
//   });
import type { RpmArch } from '../levels/arch.js';
import type { LevelName } from '../levels/table.js';
import type { AptLayout, BestVariant, ExpectationSource, PackageBuild, RepoSpec, RpmInstallFlag, Scenario, Step, StepAction } from './types.js';
import type { ArchSetting, DriverName, Operation, PinSpec } from '../model/package-manager.js';

/** A step, and `.expect(...)` to say what must hold after it. */
export interface StepBuilder extends Step {
  expect(expectation: ExpectationSource): Step;
}

function step(action: StepAction): StepBuilder {
  return { action, expect: (expectation) => ({ action, expectation }) };
}

/** What a scenario file declares; `repos` values are fixture builds or attached(NAME). */
export interface ScenarioInput {
  readonly id: string;
  readonly title: string;
  readonly tags?: readonly string[];
  readonly drivers: readonly DriverName[];
  readonly levels?: readonly LevelName[];
  /** Also run on the near-miss CPUs (each level minus one feature) with --near-misses: true for all, or their names ('v3-noavxstate'). */
  readonly nearMisses?: boolean | readonly string[];
  readonly repos?: Readonly<Record<string, readonly PackageBuild[] | RepoSpec>>;
  readonly releasever?: string;
  readonly steps: readonly Step[];
}

/** Declares a scenario. The loader checks it (ids, repositories the steps name) and reports problems with the file. */
export function defineScenario(input: ScenarioInput): Scenario {
  const repos: Record<string, RepoSpec> = {};
  for (const [name, value] of Object.entries(input.repos ?? {})) {
    repos[name] = Array.isArray(value) ? { kind: 'fixture', builds: value as readonly PackageBuild[] } : (value as RepoSpec);
  }
  return {
    id: input.id,
    title: input.title,
    tags: input.tags ?? [],
    drivers: input.drivers,
    ...(input.levels ? { levels: input.levels } : {}),
    ...(input.nearMisses ? { nearMisses: input.nearMisses } : {}),
    repos,
    ...(input.releasever !== undefined ? { releasever: input.releasever } : {}),
    // Builders carry an `expect` method; the scenario keeps plain data.
    steps: input.steps.map((s) => ({ action: s.action, ...(s.expectation !== undefined ? { expectation: s.expectation } : {}) })),
  };
}

/** A repository the user attaches (`--repo NAME=DIR` or `repos:` in the configuration), used under this scenario's name. */
export function attached(name: string): RepoSpec {
  return { kind: 'attached', name };
}

/** One fixture build of NAME-VERSION per arch. */
export function variants(name: string, version: string, arches: readonly RpmArch[], extra: Partial<Omit<PackageBuild, 'name' | 'version' | 'arch'>> = {}): PackageBuild[] {
  return arches.map((arch) => ({ name, version, arch, ...extra }));
}

/** The best variant the guest's CPU runs among the enabled repositories: the newest version it runs, in the highest arch it runs. */
export const best: BestVariant = Object.freeze({ best: true as const });

/** Leaves exactly these repositories enabled (none: no repository). Names may use $releasever. */
export const enable = (...repos: string[]): StepBuilder => step({ kind: 'repos', use: repos });
const operation = (op: Operation) => (...packages: string[]): StepBuilder => step({ kind: 'operation', op, packages });
export const install = operation('install');
export const upgrade = operation('upgrade');
export const downgrade = operation('downgrade');
/** distro-sync (zypper: dist-upgrade, which is system-wide). */
export const distroSync = operation('distro-sync');
export const remove = operation('remove');
/**
 * Installs what newly recommends or supplements the installed system, hardware
 * (modalias) supplements included: zypper's install-new-recommends (inr), the command
 * that brings openSUSE's glibc-hwcaps patterns. zypper only: dnf5 and rpm have no such
 * command (the loader refuses the step for them).
 */
export const installNewRecommends = (): StepBuilder => step({ kind: 'operation', op: 'install-new-recommends', packages: [] });
/**
 * Installs the package file FILE (NAME-EVR.ARCH.rpm) from repository REPO by path, not
 * through the repository, with the driver's tool; `{ rpm: [flags] }`: by hand with
 * `rpm -i FLAGS` whatever the driver, as a user forcing it (--ignorearch, --replacefiles...).
 */
export const installFile = (repo: string, file: string, options: { rpm?: readonly RpmInstallFlag[] } = {}): StepBuilder =>
  step({ kind: 'install-file', repo, file: file.endsWith('.rpm') ? file : `${file}.rpm`, ...(options.rpm ? { rpmFlags: options.rpm } : {}) });
/** Every later command of the cell (tools, programs, detectors) runs with these environment variables (GLIBC_TUNABLES...). */
export const setEnv = (vars: Readonly<Record<string, string>>): StepBuilder => step({ kind: 'set-env', vars });
/**
 * Overrides the machine's arch the way the driver's tool lets a user (zypper: zypp.conf
 * `arch =`; rpm: /etc/rpm/platform; apt: APT::Architecture-Variants; pacman:
 * `Architecture = x86_64 ARCH`); 'default' removes the override again.
 */
export const overrideArch = (arch: ArchSetting): StepBuilder => step({ kind: 'override-arch', arch });
/** An apt archive of these builds whose variant indexes are published as `layout` says (see AptLayout). */
export function aptRepo(builds: readonly PackageBuild[], layout: AptLayout): RepoSpec {
  return { kind: 'fixture', builds, aptLayout: layout };
}
export const listUpdates = (): StepBuilder => step({ kind: 'list-updates' });
/** Powers the guest off and boots its disk on a CPU of another level (a VM moved to an older host). */
export const moveTo = (level: LevelName | 'one-below'): StepBuilder => step({ kind: 'move-to', level });
/** Powers the guest off and boots its disk again on the same CPU. */
export const reboot = (): StepBuilder => step({ kind: 'reboot' });
/** Asks the tool which arch it believes the machine is. */
export const detect = (): StepBuilder => step({ kind: 'detect' });
/** Pins NAME to ARCH the way users do (dnf5: exclude the other arches; zypper: lock the package, as it has no arch lock). */
export const pin = (name: string, arch: RpmArch): StepBuilder => step({ kind: 'pin', pin: { name, arch } satisfies PinSpec });
/** Upgrades the whole system to release RELEASEVER through the driver's release-upgrade path. */
export const releaseUpgrade = (releasever: string): StepBuilder => step({ kind: 'release-upgrade', releasever });

export { atLeast, below, bestArch, levelBelow, rpmArchOf } from '../levels/arch.js';
