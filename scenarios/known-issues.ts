// Where today's tools fall short of the correct outcome the scenarios state. A matching
// cell that fails is an expected failure (xfail); one that passes is an unexpected
// pass (xpass), reported loudly so the entry is removed. Entries expire, so a tool
// that is fixed (or a list that went stale) is noticed.
import type { KnownIssue } from '../harness/scenario/types.js';

const DNF5_NO_LEVELS = 'https://github.com/rpm-software-management/dnf5/pull/2591';
const DNF5_LOCAL_V3 = 'https://github.com/rpm-software-management/dnf5/issues/2262';
// libsolv's level policy ("x86_64_v3:x86_64_v2:x86_64"): ':' forbids an arch change on update.
const LIBSOLV_POLICY = 'https://github.com/openSUSE/libsolv/commit/b43c0583';
const ABOVE_V1 = ['v2', 'v3', 'v4'] as const;
const V3_UP = ['v3', 'v4'] as const;

const dnf5NoLevels = (scenario: string, levels: readonly ('v2' | 'v3' | 'v4')[]): KnownIssue => ({
  scenario,
  driver: 'dnf5',
  levels,
  reason: 'dnf5 5.4 has no level detection: it takes the arch from uname (x86_64), so it installs x86_64 where a better variant exists',
  tracker: DNF5_NO_LEVELS,
  expires: '2027-06-30',
});

export const KNOWN_ISSUES: readonly KnownIssue[] = [
  dnf5NoLevels('detection', ABOVE_V1),
  dnf5NoLevels('fresh-install-mixed', ABOVE_V1),
  dnf5NoLevels('upgrade-new-variant', V3_UP),
  dnf5NoLevels('upgrade-baseline-only', V3_UP),
  dnf5NoLevels('distro-sync-switch', V3_UP),
  dnf5NoLevels('moved-to-older-cpu', ABOVE_V1),
  dnf5NoLevels('subpackage-baseline-only', V3_UP),
  dnf5NoLevels('noarch-transition', V3_UP),
  {
    scenario: 'local-file-v3',
    driver: 'dnf5',
    levels: V3_UP,
    reason: 'dnf5 refuses a local x86_64_v3 rpm even on a v3 CPU ("does not have a compatible architecture")',
    tracker: DNF5_LOCAL_V3,
    expires: '2027-06-30',
  },
  {
    scenario: 'variant-lags-baseline',
    driver: 'zypper',
    levels: V3_UP,
    reason: 'libsolv prunes candidates to the best arch before the best version: a v3 machine installs the older x86_64_v3 1.0 over x86_64 1.1',
    tracker: LIBSOLV_POLICY,
    expires: '2027-06-30',
  },
  {
    scenario: 'upgrade-new-variant',
    driver: 'zypper',
    levels: V3_UP,
    reason: 'upgrade never switches variant (libsolv treats x86_64 → x86_64_v3 as an arch change): the machine stays on x86_64',
    tracker: LIBSOLV_POLICY,
    expires: '2027-06-30',
  },
  {
    scenario: 'upgrade-baseline-only',
    driver: 'zypper',
    levels: V3_UP,
    reason: 'the silent stale case: a newer version built only for x86_64 is neither listed nor installed over x86_64_v3 ("Nothing to do", exit 0)',
    tracker: LIBSOLV_POLICY,
    expires: '2027-06-30',
  },
];
