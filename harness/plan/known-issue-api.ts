// Writing known issues: `defineKnownIssue` checks an entry as it is made, and
// `deviation.*` names what it explains in the words of the checks:
//
//   defineKnownIssue({
//     id: 'dnf5-no-level-detection',
//     reason: 'dnf5 5.4 takes the arch from uname: it installs x86_64 where a better variant exists',
//     tracker: 'https://github.com/rpm-software-management/dnf5/pull/2591',
//     expires: '2027-06-30',
//     scenarios: ['fresh-install-mixed'], drivers: ['dnf5'], levels: atLeast('v2'),
//     explains: [deviation.installedArch()],
//   })
import type { DetectorName } from '../levels/detectors.js';
import type { LevelName } from '../levels/table.js';
import type { Deviation } from '../results/types.js';
import type { DriverName } from '../scenario/types.js';
import type { DeviationMatcher, KnownIssue } from './known-issues.js';

export interface KnownIssueInput {
  readonly id: string;
  readonly reason: string;
  readonly tracker: string;
  readonly expires: string;
  readonly scenarios: readonly string[];
  readonly drivers?: readonly DriverName[];
  readonly levels?: readonly LevelName[];
  /** CPU targets by name: "v3-fma", "v3-*" (every near miss of v3). */
  readonly targets?: readonly string[];
  readonly explains: readonly DeviationMatcher[];
}

export function defineKnownIssue(input: KnownIssueInput): KnownIssue {
  return { ...input };
}

const only = (subject: string | undefined, action: string | undefined) => ({ ...(subject !== undefined ? { subject } : {}), ...(action !== undefined ? { action } : {}) });

/** The deviations a known issue can explain, by the check they show in. */
export const deviation = {
  /** The expected version is installed, in another arch (x86_64 where a better variant exists). */
  installedArch: (subject?: string, action?: string): DeviationMatcher => ({ check: 'installed', deviation: 'arch', ...only(subject, action) }),
  /** Another version than expected is installed (an update not taken, an older variant preferred). */
  installedVersion: (subject?: string, action?: string): DeviationMatcher => ({ check: 'installed', deviation: 'version', ...only(subject, action) }),
  /** Another build is installed where none, or only the expected one, should be (two variants side by side). */
  installedBeside: (subject?: string, action?: string): DeviationMatcher => ({ check: 'installed', deviation: 'unexpected', ...only(subject, action) }),
  /** Nothing is installed where something should be. */
  notInstalled: (subject?: string, action?: string): DeviationMatcher => ({ check: 'installed', deviation: 'missing', ...only(subject, action) }),
  /** The installed version is older than the newest one the CPU runs. */
  stale: (subject?: string, action?: string): DeviationMatcher => ({ check: 'current', deviation: 'stale', ...only(subject, action) }),
  /** An update exists and the tool does not list it. */
  updateNotListed: (): DeviationMatcher => ({ check: 'updates', deviation: 'not-listed' }),
  /** A detector's idea of the machine's level is another than the CPU's (one detector: cpuid, cpuinfo, modalias, glibc, rpm, libzypp, dnf5-arch, dnf5-basearch; none: any). */
  detectedArch: (detector?: DetectorName): DeviationMatcher => ({ check: 'detected-arch', deviation: 'other', ...only(detector, undefined) }),
  /** The tool refused a command that should succeed. */
  refused: (action?: string): DeviationMatcher => ({ check: 'outcome', deviation: 'refused', ...only(undefined, action) }),
  /** A program of the installed system does not run (after a step that should leave it runnable). */
  notRunnable: (how: Deviation | readonly Deviation[] = 'sigill', subject?: string, action?: string): DeviationMatcher => ({ check: 'runnable', deviation: how, ...only(subject, action) }),
  /** A program a check runs does not run. */
  doesNotRun: (how: Deviation | readonly Deviation[], subject?: string, action?: string): DeviationMatcher => ({ check: 'runs', deviation: how, ...only(subject, action) }),
  /** A program expected to die with SIGILL ran (the variant the CPU could not run was not installed). */
  ranInsteadOfTrapping: (subject?: string): DeviationMatcher => ({ check: 'dies', deviation: 'ran', ...only(subject, undefined) }),
};
