// The scenario model: what a scenario file declares (repositories, steps, expected
// outcome per level), as plain typed data. Scenarios live in scenarios/, one per file.
import type { LevelName } from '../levels/table.js';

export const RPM_ARCHES = ['noarch', 'x86_64', 'x86_64_v2', 'x86_64_v3', 'x86_64_v4'] as const;
export type RpmArch = (typeof RPM_ARCHES)[number];
export const DRIVER_NAMES = ['dnf5', 'zypper', 'rpm'] as const;
export type DriverName = (typeof DRIVER_NAMES)[number];
export type HwcapsDir = 'x86-64-v2' | 'x86-64-v3' | 'x86-64-v4';

/** One RPM the fixture builder makes. */
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
   * for each of `hwcaps`; NAME prints which copy the loader chose.
   */
  readonly kind?: 'program' | 'script' | 'hwcaps';
  readonly hwcaps?: readonly HwcapsDir[];
  readonly requires?: readonly string[];
  /**
   * Compile for this level instead of the arch's: a mislabelled build (say, an
   * "x86_64" package whose program needs v3), for tests that prove a wrong variant is caught.
   */
  readonly compiledFor?: LevelName;
}

export type Operation = 'install' | 'upgrade' | 'downgrade' | 'distro-sync' | 'remove';

/** What must be true after a step, for one level and driver. */
export interface Expectation {
  /** The package manager's exit status is 0 (true) or not (false). */
  readonly succeeds?: boolean;
  /** name → "VERSION-RELEASE.ARCH" installed, or null for not installed. */
  readonly installed?: Readonly<Record<string, string | null>>;
  /** program → the line it prints ("NAME VERSION-RELEASE ARCH"), or 'sigill'. */
  readonly runs?: Readonly<Record<string, string | 'sigill'>>;
  /** hwcaps program → the copy the loader picked: 'baseline' or 'x86-64-vN'. */
  readonly loads?: Readonly<Record<string, 'baseline' | HwcapsDir>>;
  /** Names whose installed version must be the newest any enabled repository offers for an arch this CPU runs. */
  readonly notStale?: readonly string[];
  /** list-updates: exactly these names are offered. */
  readonly updatesListed?: readonly string[];
  /** detect: the arch the tool believes the machine is. */
  readonly detectedArch?: string;
}

export type Expect = (level: LevelName, driver: DriverName) => Expectation;

export type Step =
  | { readonly kind: 'repos'; readonly use: readonly string[] }
  | { readonly kind: 'operation'; readonly op: Operation; readonly packages: readonly string[]; readonly expect?: Expect }
  | { readonly kind: 'install-file'; readonly repo: string; readonly nevra: string; readonly expect?: Expect }
  | { readonly kind: 'list-updates'; readonly expect?: Expect }
  /** Power off and boot the same disk on another CPU (a VM migrated to an older host). */
  | { readonly kind: 'move-to'; readonly level: LevelName | 'one-below'; readonly expect?: Expect }
  | { readonly kind: 'detect'; readonly expect?: Expect };

export interface Scenario {
  /** kebab-case; the file name under scenarios/. */
  readonly id: string;
  readonly title: string;
  readonly tags: readonly string[];
  readonly drivers: readonly DriverName[];
  /** Levels the scenario means something at (default: all). */
  readonly levels?: readonly LevelName[];
  /** Repository id → the packages it publishes. */
  readonly repos: Readonly<Record<string, readonly PackageBuild[]>>;
  readonly steps: readonly Step[];
}

/** A known shortfall of today's tools: the cell is expected to fail until it expires. */
export interface KnownIssue {
  readonly scenario: string | '*';
  readonly driver?: DriverName;
  readonly levels?: readonly LevelName[];
  readonly reason: string;
  readonly tracker: string;
  /** YYYY-MM-DD: after it, the entry is ignored (and said so), so a fixed tool is noticed. */
  readonly expires: string;
}

export const releaseOf = (b: PackageBuild): string => b.release ?? '1';
export const evrOf = (b: PackageBuild): string => `${b.version}-${releaseOf(b)}`;
export const nevraOf = (b: PackageBuild): string => `${b.name}-${evrOf(b)}.${b.arch}`;
export const kindOf = (b: PackageBuild): 'program' | 'script' | 'hwcaps' => b.kind ?? (b.arch === 'noarch' ? 'script' : 'program');

/** The psABI level an RPM arch needs; noarch runs anywhere. */
export function archLevel(arch: RpmArch): LevelName | null {
  switch (arch) {
    case 'noarch':
      return null;
    case 'x86_64':
      return 'v1';
    default:
      return `v${arch.slice(-1)}` as LevelName;
  }
}
