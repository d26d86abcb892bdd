// The scenario model as the engine uses it: repositories, steps, and what must hold
// after each step. Scenario files build it with the public API (api.ts); this module
// holds only the data types and what is derived from them.
import type { RpmArch } from '../levels/arch.js';
import { levelIndex, type LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import { formatNevra } from '../packages/available.js';
import type { DetectorName } from '../drivers/detectors.js';
import type { ArchSetting, DriverName, Operation, PinSpec, Refusal, RepoFormat } from '../model/package-manager.js';

/** Where a fixture repository lives under the fixture tree: SCENARIO/REPO for rpm-md (createrepo_c), SCENARIO/REPO@apt and SCENARIO/REPO@pacman beside it. */
export const fixtureRepoPath = (scenario: string, repo: string, format: RepoFormat): string => `${scenario}/${repo}${format === 'rpm-md' ? '' : `@${format}`}`;
export type HwcapsDir = 'x86-64-v2' | 'x86-64-v3' | 'x86-64-v4';

/** What a fixture package ships (see PackageBuild.kind). */
export type PackageKind = 'program' | 'script' | 'hwcaps' | 'hwcaps-overlay' | 'none';

/** One fixture RPM that levelgate builds for a scenario. */
export interface PackageBuild {
  readonly name: string;
  readonly version: string;
  readonly release?: string;
  readonly arch: RpmArch;
  /**
   * program (default for arch packages): /usr/bin/NAME, compiled for the arch's level,
   * prints "NAME VERSION-RELEASE ARCH" after executing an instruction of that level;
   * script (default for noarch): /usr/bin/NAME, a shell script printing the same;
   * hwcaps: /usr/bin/NAME and libNAME.so.1 in /usr/lib64 and in glibc-hwcaps/<dir>/
   * for each of `hwcaps`; NAME prints which copy the loader chose;
   * hwcaps-overlay: only the glibc-hwcaps/<dir>/ copies of `library`'s libLIBRARY.so.1,
   * one for each of `hwcaps`, each compiled for its directory's level: openSUSE's
   * per-level library package (libfoo1-x86-64-v3, an x86_64 package), which sits
   * beside the hwcaps package that ships the baseline copy and the program;
   * none: no program, one marker file (a library-like subpackage, a pattern).
   */
  readonly kind?: PackageKind;
  readonly hwcaps?: readonly HwcapsDir[];
  /**
   * hwcaps, hwcaps-overlay: where the library and its glibc-hwcaps copies go: lib64
   * (/usr/lib64, the program finds it by its RUNPATH; default) or multiarch (Debian's
   * /usr/lib/x86_64-linux-gnu, a directory the loader searches by default).
   */
  readonly libdir?: 'lib64' | 'multiarch';
  /** hwcaps-overlay: the hwcaps package whose library it carries copies of (default: its own name). */
  readonly library?: string;
  /** `Requires:`, one dependency a value, written to the spec as is (the builder escapes '%' for rpm); so are the tags below. */
  readonly requires?: readonly string[];
  /** `Provides:` beyond the package's own name ("glibc", "pattern() = x86_64_v3"). */
  readonly provides?: readonly string[];
  /** `Recommends:` (weak dependencies the solver installs when recommends are on). */
  readonly recommends?: readonly string[];
  /** `Supplements:` (reverse weak dependencies: "modalias(...)", rich "(a and b)"). */
  readonly supplements?: readonly string[];
  /**
   * The payload's compression (default: rpm's own, zstd, as Fedora and openSUSE ship
   * packages). The choice matters to the CPU: zstd's decoder picks a BMI2 code path
   * that also uses LZCNT.
   */
  readonly payload?: 'zstd' | 'gzip';
  /**
   * Compile for this level instead of the arch's: a mislabelled build (an "x86_64"
   * package whose program needs v3, as RHEL 10 builds them), for scenarios that prove
   * such a package is caught.
   */
  readonly compiledFor?: LevelName;
}

/**
 * How an apt fixture repository publishes its variant indexes (binary-amd64vN/Packages):
 * standalone: Release lists every variant in `Architectures:`, so apt takes a variant's
 * index instead of the base one (Ubuntu's archive); overlay: the variant indexes are
 * hashed in Release but only amd64 is listed, so they sit beside the base one;
 * no-architectures: Release has no `Architectures:` field at all.
 */
export const APT_LAYOUTS = ['standalone', 'overlay', 'no-architectures'] as const;
export type AptLayout = (typeof APT_LAYOUTS)[number];

/** A repository a scenario uses: fixture builds, or a repository the user attaches by name. */
export type RepoSpec =
  | {
      readonly kind: 'fixture';
      readonly builds: readonly PackageBuild[];
      /** Where in the fixture tree it lives when it is shared (default: SCENARIO/NAME of its own). */
      readonly path?: string;
      /** Published as an apt archive: how its variant indexes are listed (default standalone). */
      readonly aptLayout?: AptLayout;
    }
  | { readonly kind: 'attached'; readonly name: string };

/** "The best variant of NAME that the guest's CPU runs among the enabled repositories": the newest version it runs, in the highest arch it runs. */
export interface BestVariant {
  readonly best: true;
}
/** "VERSION-RELEASE.ARCH"; a list: exactly these builds side by side; null: not installed; or the best variant. */
export type InstalledState = string | readonly string[] | null | BestVariant;

/** What must be true after a step, for one level and driver. */
export interface Expectation {
  /** The step's command is refused, for this reason (the tool's own message shows it). Default for commands: it succeeds. */
  readonly refused?: Refusal;
  /** name → "VERSION-RELEASE.ARCH", null for not installed, or the best variant. */
  readonly installed?: Readonly<Record<string, InstalledState>>;
  /** Programs that must run (exit 0); a fixture program must also report the package installed. */
  readonly runs?: readonly string[];
  /** Packages every program of which must run (a fixture program reports its package; others run with --version). */
  readonly runsPackage?: readonly string[];
  /** Programs that must die with SIGILL (an instruction above the CPU's level): a trap only a faithful emulator shows. */
  readonly dies?: readonly string[];
  /** glibc-hwcaps program → the copy the loader picks: 'baseline' or a glibc-hwcaps directory. */
  readonly loads?: Readonly<Record<string, 'baseline' | HwcapsDir>>;
  /** Names whose installed version must be the newest any enabled repository offers in an arch this CPU runs. */
  readonly current?: readonly string[];
  /** list-updates: exactly these names are offered. */
  readonly updatesListed?: readonly string[];
  /** detect: the arch the driver's tool believes the machine is ('level': the arch of the level the CPU meets). */
  readonly detectedArch?: RpmArch | 'level';
  /** detect: what each detector must conclude ('level': every detector, the level the CPU meets). */
  readonly detectors?: 'level' | Readonly<Partial<Record<DetectorName, RpmArch | 'level'>>>;
  /** Every program of every installed package from the scenario's repositories runs. */
  readonly runnable?: boolean;
}

/** What an expectation is computed from. */
export interface ExpectContext {
  /** The CPU level the cell's guest started at (the level a near miss meets). */
  readonly level: LevelName;
  /** The CPU itself: `target.nearMiss` names the level it nearly is and the feature it lacks. */
  readonly target: CpuTarget;
  readonly driver: DriverName;
  /** True when the cell's CPU is at or above `level`. */
  readonly atLeast: (level: LevelName) => boolean;
}
export type ExpectationSource = Expectation | ((context: ExpectContext) => Expectation);

/** What a function-form expectation is called with, for a cell on `target` with `driver`: at run time and when the plan is checked. */
export const expectContextOf = (target: CpuTarget, driver: DriverName): ExpectContext => ({ level: target.level, target, driver, atLeast: (l) => levelIndex(target.level) >= levelIndex(l) });
export type StepAction =
  | { readonly kind: 'repos'; readonly use: readonly string[] }
  | { readonly kind: 'operation'; readonly op: Operation; readonly packages: readonly string[] }
  /** A local package file; `rpmFlags`: by hand with `rpm -i FLAGS` (as a user forcing it), whatever the driver. */
  | { readonly kind: 'install-file'; readonly repo: string; readonly file: string; readonly rpmFlags?: readonly RpmInstallFlag[] }
  | { readonly kind: 'list-updates' }
  /** Power off and boot the same disk on another CPU (a VM migrated to an older host). */
  | { readonly kind: 'move-to'; readonly level: LevelName | 'one-below' }
  /** Power off and boot the same disk on the same CPU. */
  | { readonly kind: 'reboot' }
  | { readonly kind: 'detect' }
  | { readonly kind: 'pin'; readonly pin: PinSpec }
  /** The driver's release-upgrade path (dnf5 --releasever distro-sync, zypper --releasever dup) to `releasever`. */
  | { readonly kind: 'release-upgrade'; readonly releasever: string }
  /** Every later command of the cell (tools, programs, detectors) runs with these environment variables. */
  | { readonly kind: 'set-env'; readonly vars: Readonly<Record<string, string>> }
  /** The tool's own override of the machine's arch (zypp.conf `arch =`, /etc/rpm/platform). */
  | { readonly kind: 'override-arch'; readonly arch: ArchSetting };

/** The rpm -i flags a scenario may force a local file in with. */
export const RPM_INSTALL_FLAGS = ['--ignorearch', '--replacefiles', '--replacepkgs', '--oldpackage', '--nodeps', '--noscripts', '--force'] as const;
export type RpmInstallFlag = (typeof RPM_INSTALL_FLAGS)[number];

export interface Step {
  readonly action: StepAction;
  readonly expectation?: ExpectationSource;
}

export interface Scenario {
  /** kebab-case, unique across the run. */
  readonly id: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly drivers: readonly DriverName[];
  /** Levels the scenario means something at (default: all). */
  readonly levels?: readonly LevelName[];
  /** Also runs on the near-miss CPUs (a level minus one feature) when the run asks for them (--near-misses): all, or these. */
  readonly nearMisses?: boolean | readonly string[];
  /** Repository name → its content. A name may contain $releasever (see `releasever`). */
  readonly repos: Readonly<Record<string, RepoSpec>>;
  /** The value of $releasever in repository names until a release-upgrade step changes it. */
  readonly releasever?: string;
  readonly steps: readonly Step[];
  /** Where the scenario was defined (file path), for messages. */
  readonly source?: string;
}

export const releaseOf = (b: PackageBuild): string => b.release ?? '1';
export const evrOf = (b: PackageBuild): string => `${b.version}-${releaseOf(b)}`;
export const nevraOf = (b: PackageBuild): string => formatNevra(b.name, 0, evrOf(b), b.arch);
export const kindOf = (b: PackageBuild): PackageKind => b.kind ?? (b.arch === 'noarch' ? 'script' : 'program');

/** The builds of a scenario's fixture repositories, by repository name. */
export function fixtureRepos(scenario: Scenario): [string, readonly PackageBuild[]][] {
  return Object.entries(scenario.repos).flatMap(([name, spec]) => (spec.kind === 'fixture' && !spec.path ? [[name, spec.builds] as [string, readonly PackageBuild[]]] : []));
}

/** The shared fixture repository of every build of the catalog (what a variant audit of the fixtures reads). */
export const SHARED_FIXTURE_REPO = 'variant-audit/all';

/** The title a step has in transcripts and reports. */
export function stepTitle(action: StepAction): string {
  switch (action.kind) {
    case 'repos':
      return `enable repositories: ${action.use.join(', ') || 'none'}`;
    case 'operation':
      return `${action.op}${action.packages.length ? ` ${action.packages.join(' ')}` : ''}`;
    case 'install-file':
      return action.rpmFlags ? `rpm -i ${[...action.rpmFlags, action.file].join(' ')} (by hand)` : `install local file ${action.file}`;
    case 'list-updates':
      return 'list available updates';
    case 'move-to':
      return `move the disk to a ${action.level === 'one-below' ? 'CPU one level below' : `${action.level} CPU`}`;
    case 'reboot':
      return 'reboot on the same CPU';
    case 'detect':
      return 'detect the machine arch';
    case 'pin':
      return `pin ${action.pin.name} to ${action.pin.arch}`;
    case 'release-upgrade':
      return `release upgrade to ${action.releasever}`;
    case 'set-env':
      return `set ${Object.entries(action.vars).map(([k, v]) => `${k}=${v}`).join(' ')} for every later command`;
    case 'override-arch':
      return action.arch === 'default' ? "remove the override of the machine's arch" : `override the machine's arch: ${action.arch}`;
  }
}

/** Every value $releasever takes in a scenario: its start, and each release upgrade's target. */
export function releasesOf(scenario: Scenario): string[] {
  const values = scenario.releasever !== undefined ? [scenario.releasever] : [];
  for (const step of scenario.steps) if (step.action.kind === 'release-upgrade') values.push(step.action.releasever);
  return [...new Set(values)];
}
