// Writing known issues: `defineKnownIssue` checks an entry as it is made, and
// `deviation.*` names what it explains in the words of the checks:
//
//   defineKnownIssue({
//     id: 'dnf5-no-level-detection',
//     reason: 'dnf5 5.4 takes the arch from uname: it installs x86_64 where a better variant exists',
//     tracker: 'https://github.com/rpm-software-management/dnf5/pull/2591',
//     expires: '2027-06-30',
//     scenarios: ['fresh-install-mixed'], drivers: ['dnf5'], levels: atLeast('v2'),
//     explains: [deviation.installedArch('lgmixed', 'install')],
//   })
import type { DetectorName } from '../drivers/detectors.js';
import type { LevelName } from '../levels/table.js';
import type { Deviation } from '../results/types.js';
import type { DriverName, Refusal } from '../model/package-manager.js';
import type { Any, DeviationMatcher, KnownIssue } from './known-issues.js';

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

type Subject = string | Any;
type Action = string | Any;
const matcher = (check: DeviationMatcher['check'], deviation: Deviation, subject: Subject, action: Action): DeviationMatcher => ({ check, deviation, subject, action });

/**
 * The deviations a known issue can explain, by the check they show in. Each names its
 * subject (the package or program) and the step's action, or says `any` explicitly:
 * an issue explains what it names and nothing else.
 */
export const deviation = {
  /** The expected version is installed, in another arch (x86_64 where a better variant exists). */
  installedArch: (subject: Subject, action: Action): DeviationMatcher => matcher('installed', 'arch', subject, action),
  /** An older version than expected is installed (an update not taken, an older variant preferred). */
  installedOlder: (subject: Subject, action: Action): DeviationMatcher => matcher('installed', 'older', subject, action),
  /** A newer version than expected is installed. */
  installedNewer: (subject: Subject, action: Action): DeviationMatcher => matcher('installed', 'newer', subject, action),
  /** The expected version is installed in another build (release). */
  installedOtherBuild: (subject: Subject, action: Action): DeviationMatcher => matcher('installed', 'other-build', subject, action),
  /** Another build is installed where none, or only the expected one, should be (two variants side by side). */
  installedBeside: (subject: Subject, action: Action): DeviationMatcher => matcher('installed', 'unexpected', subject, action),
  /** Builds side by side that are not the set expected. */
  installedWrongSet: (subject: Subject, action: Action): DeviationMatcher => matcher('installed', 'wrong-set', subject, action),
  /** Nothing is installed where something should be. */
  notInstalled: (subject: Subject, action: Action): DeviationMatcher => matcher('installed', 'missing', subject, action),
  /** The installed version is older than the newest one the CPU runs. */
  stale: (subject: Subject, action: Action): DeviationMatcher => matcher('current', 'stale', subject, action),
  /** An update exists and the tool does not list it. */
  updateNotListed: (): DeviationMatcher => matcher('updates', 'not-listed', '', 'list-updates'),
  /** A detector's idea of the machine's level is another than the CPU's (cpuid, cpuinfo, modalias, glibc, rpm, libzypp, dnf5-arch, dnf5-basearch). A detector that failed is never this. */
  detectedArch: (detector: DetectorName | Any): DeviationMatcher => matcher('detected-arch', 'other', detector, 'detect'),
  /** The tool refused a command of this action that should succeed, for this reason (the one its message gives; 'unrecognised' when none). */
  refused: (action: Action, reason: Refusal | 'unrecognised'): DeviationMatcher => ({ ...matcher('outcome', 'refused', '', action), refusal: reason }),
  /** The tool refused, as the scenario expects, but its message gives another reason (`reason`; 'unrecognised' when none). */
  refusedForAnotherReason: (action: Action, reason: Refusal | 'unrecognised'): DeviationMatcher => ({ ...matcher('outcome', 'wrong-refusal', '', action), refusal: reason }),
  /** A program of the installed system does not run (after a step that should leave it runnable). */
  notRunnable: (how: Deviation, subject: Subject, action: Action): DeviationMatcher => matcher('runnable', how, subject, action),
  /** A program a check runs does not run. */
  doesNotRun: (how: Deviation, subject: Subject, action: Action): DeviationMatcher => matcher('runs', how, subject, action),
  /** A program expected to die with SIGILL ran (the variant the CPU could not run was not installed). */
  ranInsteadOfTrapping: (subject: Subject, action: Action): DeviationMatcher => matcher('dies', 'ran', subject, action),
};
