// Where today's tools fall short of the correct outcome the scenarios state. Each entry
// names the cells it covers and exactly the deviations it explains: a cell is an
// expected failure (xfail) only when every failing check is one of them; an entry that
// explains nothing in a cell it covers makes that cell an unexpected pass (xpass),
// reported loudly so the entry is removed. Entries expire, so a fixed tool is noticed.
import { atLeast, below, defineKnownIssue, deviation, type DeviationMatcher, type KnownIssue, type LevelName } from '../harness/index.js';
import { LEVEL_NAMES } from '../harness/levels/table.js';
import { ALL_TARGETS, targetFeatures } from '../harness/levels/targets.js';
import { hwcapsOverlayBuild, HWCAPS_PATTERNS, patternsSelectedWrongly } from '../harness/repos/hwcaps-patterns.js';
import { archRank, runsAt } from '../harness/levels/arch.js';
import { bestVariant, evraString, namesWithVariants, type AvailablePackage } from '../harness/packages/available.js';
import { compareEvr } from '../harness/packages/evr.js';
import { installedDeviation } from '../harness/scenario/evaluate.js';
import { fixtureAuditSource, VARIANT_AUDIT_PREFIX } from '../harness/scenario/variant-audit.js';
import { LIBRARY as HWCAPS_LIBRARY } from './hwcaps-pattern.js';
import { CATALOG } from './index.js';

const EXPIRES = '2027-06-30';
const DNF5_NO_LEVELS = 'https://github.com/rpm-software-management/dnf5/pull/2591';
const DNF5_LOCAL_V3 = 'https://github.com/rpm-software-management/dnf5/issues/2262';
// No upstream report describes these; the trackers link the documented libsolv policy
// that causes them (at the commit read), and each cell's evidence keeps a reproducer
// with libsolv's own test case (harness/run/reproducer.ts).
const LIBSOLV = 'https://github.com/openSUSE/libsolv/blob/1b580675f4e3107823146c78fe03876cb82bf964';
/** "a : b ... the solver must not change the architecture from a to b or b to a"; x86_64_v3:x86_64_v2:x86_64. */
const NO_ARCH_CHANGE_ON_UPDATE = `${LIBSOLV}/doc/libsolv-pool.txt#L801-L829`;
/** prune_to_best_arch() runs before prune_to_best_version(). */
const BEST_ARCH_BEFORE_VERSION = `${LIBSOLV}/src/policy.c#L1359-L1362`;

/**
 * libzypp's get_x86_64_level() (a copy of rpm's before rpm#2463 added the XCR0 check)
 * reads CPUID only: it takes a CPU whose OS left the AVX state off for v3. No upstream
 * report yet: the tracker is the code, at the commit read.
 */
const LIBZYPP_CPUID_ONLY = 'https://github.com/openSUSE/libzypp/blob/5adf072042d2d2c11e2eb11fcb63cafacade3fe8/zypp-logic/zypp/Arch.cc#L84-L108';
/** The CPUs libzypp takes for v3 though they meet v2 (CPUID shows every v3 bit; the OS left the AVX state off). */
const LIBZYPP_SEES_V3 = ['v3-noavxstate'];
const LIBZYPP_CPUID_ONLY_REASON = "libzypp decides the level from CPUID alone, without XCR0 (rpm#2463 fixed the same code in rpm): with the AVX state off (clearcpuid=avx) it says x86_64_v3";

/** rpm's own test "rpm -e and verify conflicting files removed": erasing the package that replaced a file (--replacefiles) removes it. */
const RPM_ERASE_REPLACED_FILE = 'https://github.com/rpm-software-management/rpm/issues/2376';

// apt (Debian/apt at 6b12812, the source of sid's apt 3.3) and pacman: where no report
// exists, the tracker is the source line that shows the behaviour.
const APT_SRC = 'https://github.com/Debian/apt/blob/6b128124271e94bdb0f4e7850d9286170d712b04';
/** A variant index listed in Architectures supplants the base one: no fallback to amd64 for a name the variant lacks or has older. */
const LP_2139113 = 'https://bugs.launchpad.net/ubuntu/+source/apt/+bug/2139113';
/** The version order takes the configured APT::Architecture-Variants list literally: under "auto" it holds the word "auto", not the variants detected. */
const APT_VARIANT_ORDER_LITERAL = `${APT_SRC}/apt-pkg/pkgcachegen.cc#L406-L409`;
/** A variant named in APT::Architecture-Variants is enabled with no look at the CPU; only "auto" reads the varianttable's flags. */
const APT_EXPLICIT_NO_CPU_CHECK = `${APT_SRC}/apt-pkg/aptconfiguration.cc#L390`;
/** A variant counts as standalone when Release supports its name; a Release without Architectures supports every name. */
const APT_STANDALONE_CHECK = `${APT_SRC}/apt-pkg/acquire-item.cc#L1607-L1612`;
/** Variants are decided for what apt fetches; nothing compares an installed package's variant with the CPU. */
const APT_VARIANTS_DECIDED = `${APT_SRC}/apt-pkg/aptconfiguration.cc#L360-L392`;
/** apt's own test table: its amd64v2 row has no pni (SSE3). */
const APT_TEST_TABLE_V2 = `${APT_SRC}/test/integration/varianttable#L4`;
/** pacman's `Architecture = auto` is uname -m (config_add_architecture): no level detection upstream. */
const PACMAN_AUTO_UNAME = 'https://gitlab.archlinux.org/pacman/pacman/-/blob/v7.1.0/src/pacman/conf.c';
const CACHYOS_V3_BROKE_V2 = 'https://github.com/CachyOS/CachyOS-Welcome/issues/208';
const CACHYOS_LAGGING_V3 = 'https://github.com/CachyOS/distribution/issues/7';
const PACMAN_NO_LEVELS_REASON = 'pacman has no level detection: `Architecture = auto` is uname -m (x86_64), so a package labelled x86_64_v3 is refused ("does not have a valid architecture") and pacman does not fall back to the next repository';

/**
 * openSUSE's patterns-glibc-hwcaps.spec: no bug report about its modalias glob was
 * found (openSUSE bugzilla, OBS, GitHub), so the tracker is the spec itself on OBS
 * (read as rev. 1 in the GitHub mirror: https://github.com/bmwiedemann/openSUSE/blob/
 * 0d88f799191dfc02f604696226fdb47fff1a1e75/packages/p/patterns-glibc-hwcaps/patterns-glibc-hwcaps.spec).
 */
const OPENSUSE_HWCAPS_SPEC = 'https://build.opensuse.org/projects/openSUSE:Factory/packages/patterns-glibc-hwcaps/files/patterns-glibc-hwcaps.spec';

/**
 * The CPUs each glibc-hwcaps pattern's own glob selects although they do not meet its
 * level, computed from the patterns' globs and the targets' modaliases: openSUSE's v3
 * glob lacks 00C5 (LZCNT), so it selects v3-lzcnt.
 */
const hwcapsPatternIssues = (): KnownIssue[] =>
  HWCAPS_PATTERNS.flatMap((pattern) => {
    const targets = ALL_TARGETS.filter((t) => patternsSelectedWrongly(t).includes(pattern)).map((t) => t.name);
    if (targets.length === 0) return [];
    const overlay = hwcapsOverlayBuild(HWCAPS_LIBRARY, pattern.level).name;
    return [
      defineKnownIssue({
        id: `opensuse-hwcaps-pattern-glob/${pattern.level}`,
        reason:
          `${pattern.name} selects CPUs by a modalias glob that misses a feature glibc's x86-64-${pattern.level} requires (the v3 list has no 00C5, LZCNT): ` +
          `zypper inr installs the pattern and its ${pattern.level} libraries on a CPU glibc will not load them on. No bug report exists; the tracker is openSUSE's spec. ` +
          'Real CPUs with BMI1 all have LZCNT: it shows on VM CPU models that mask abm.',
        tracker: OPENSUSE_HWCAPS_SPEC,
        expires: EXPIRES,
        scenarios: ['hwcaps-pattern'],
        drivers: ['zypper'],
        targets,
        explains: [deviation.installedBeside(pattern.name, 'install-new-recommends'), deviation.installedBeside(overlay, 'install-new-recommends')],
      }),
    ];
  });

/**
 * libzstd takes its BMI2 decoder when CPUID shows BMI1 and BMI2 (ZSTD_cpuSupportsBmi2,
 * lib/common/zstd_internal.h), but compiles it with target "lzcnt,bmi,bmi2" since
 * facebook/zstd#2888: on a CPU without LZCNT the instruction runs as BSR and the payload
 * decodes to garbage ("cpio: Bad magic"). No report of the missing LZCNT check was
 * found; the tracker is the change that made the path use LZCNT.
 */
const ZSTD_BMI2_USES_LZCNT = 'https://github.com/facebook/zstd/pull/2888';
const zstdBmi2Targets = (): string[] =>
  ALL_TARGETS.filter((t) => {
    const has = new Set(targetFeatures(t).map((f) => f.psabi));
    return has.has('BMI1') && has.has('BMI2') && !has.has('LZCNT');
  }).map((t) => t.name);

const DNF5_REASON = 'dnf5 5.4 has no level detection: it takes the arch from uname (x86_64), so it installs x86_64 where a better variant exists';
const dnf5NoLevels = (id: string, scenario: string, levels: readonly LevelName[], explains: KnownIssue['explains']): KnownIssue =>
  defineKnownIssue({ id: `dnf5-no-levels/${id}`, reason: DNF5_REASON, tracker: DNF5_NO_LEVELS, expires: EXPIRES, scenarios: [scenario], drivers: ['dnf5'], levels, explains });

/**
 * The variant audit of the fixture repositories: which package, at which level, each
 * shortfall reaches, and exactly how its `installed` check differs (another arch, an
 * older version...). Computed from the fixture builds with the documented behaviour:
 * dnf5 5.4 sees only noarch and x86_64 as installable (no level detection); libsolv
 * prunes candidates to the best arch before the best version (noarch always stays).
 */
function auditCoverage(pick: (name: string, level: LevelName, all: readonly AvailablePackage[]) => AvailablePackage | undefined): Map<LevelName, { scenarios: string[]; explains: DeviationMatcher[] }> {
  const all: AvailablePackage[] = fixtureAuditSource(CATALOG).builds.map((b) => ({ name: b.name, epoch: 0, version: b.version, release: b.release ?? '1', arch: b.arch }));
  const covered = new Map<LevelName, { scenarios: string[]; explains: DeviationMatcher[] }>();
  for (const level of LEVEL_NAMES) {
    const scenarios: string[] = [];
    const explains: DeviationMatcher[] = [];
    for (const name of namesWithVariants(all)) {
      const want = bestVariant(name, level, all);
      const got = pick(name, level, all);
      if (!want || !got || (compareEvr(want, got) === 0 && want.arch === got.arch)) continue;
      scenarios.push(`${VARIANT_AUDIT_PREFIX}${name}`);
      const how = installedDeviation(name, { best: true }, evraString(want), [got]);
      explains.push({ check: 'installed', subject: name, action: 'install', deviation: how });
    }
    if (scenarios.length) covered.set(level, { scenarios, explains });
  }
  return covered;
}
const newest = (candidates: readonly AvailablePackage[]) => [...candidates].sort((a, b) => compareEvr(b, a))[0];
const dnf5Picks = (name: string, _level: LevelName, all: readonly AvailablePackage[]) => newest(all.filter((p) => p.name === name && (p.arch === 'noarch' || p.arch === 'x86_64')));
const libsolvPicks = (name: string, level: LevelName, all: readonly AvailablePackage[]) => {
  const runnable = all.filter((p) => p.name === name && runsAt(p.arch, level));
  const bestRank = Math.max(...runnable.filter((p) => p.arch !== 'noarch').map((p) => archRank(p.arch)));
  return newest(runnable.filter((p) => p.arch === 'noarch' || archRank(p.arch) === bestRank));
};

const auditIssues = (): KnownIssue[] => [
  ...[...auditCoverage(dnf5Picks)].map(([level, { scenarios, explains }]) =>
    defineKnownIssue({ id: `dnf5-no-levels/variant-audit-${level}`, reason: DNF5_REASON, tracker: DNF5_NO_LEVELS, expires: EXPIRES, scenarios, drivers: ['dnf5'], levels: [level], explains }),
  ),
  ...[...auditCoverage(libsolvPicks)].map(([level, { scenarios, explains }]) =>
    defineKnownIssue({
      id: `libsolv-best-arch-before-version/variant-audit-${level}`,
      reason: 'libsolv prunes candidates to the best arch before the best version: an older build in a higher arch wins over the newest version',
      tracker: BEST_ARCH_BEFORE_VERSION,
      expires: EXPIRES,
      scenarios,
      drivers: ['zypper'],
      levels: [level],
      explains,
    }),
  ),
];

/** pacman 7.1 against the level repositories of CachyOS and ALHP (scenarios/pacman-repos.ts). */
const PACMAN_ISSUES: readonly KnownIssue[] = [
  defineKnownIssue({
    id: 'pacman-no-level-detection/detection',
    reason: PACMAN_NO_LEVELS_REASON,
    tracker: PACMAN_AUTO_UNAME,
    expires: EXPIRES,
    scenarios: ['detection'],
    levels: atLeast('v2'),
    explains: [deviation.detectedArch('pacman-arch')],
  }),
  defineKnownIssue({
    id: 'pacman-no-level-detection/cachyos-layout',
    reason: `${PACMAN_NO_LEVELS_REASON}: the first repository's v3 build is refused on every CPU and nothing is installed`,
    tracker: PACMAN_AUTO_UNAME,
    expires: EXPIRES,
    scenarios: ['pacman-cachyos-layout'],
    drivers: ['pacman'],
    explains: [deviation.refused('install', 'incompatible-arch'), deviation.notInstalled('lgpcachy', 'install'), deviation.doesNotRun('not-run', 'lgpcachy', 'install')],
  }),
  defineKnownIssue({
    id: 'pacman-architecture-list-no-cpu-check',
    reason: 'with `Architecture = x86_64 x86_64_v3` pacman installs the x86_64_v3 build of the first repository on any CPU: it never checks the CPU, so the program dies of SIGILL below v3',
    tracker: CACHYOS_V3_BROKE_V2,
    expires: EXPIRES,
    scenarios: ['pacman-cachyos-architecture'],
    drivers: ['pacman'],
    levels: below('v3'),
    explains: [deviation.installedArch('lgpcachyarch', 'install'), deviation.notRunnable('sigill', 'lgpcachyarch', 'install')],
  }),
  defineKnownIssue({
    id: 'pacman-alhp-v3-labelled-x86_64',
    reason: "ALHP labels its x86-64-v3 rebuilds x86_64 (the level is only in the repository's name) and pacman takes the first repository that has the name: on a CPU below v3 the program dies of SIGILL, and nothing can refuse it",
    tracker: PACMAN_AUTO_UNAME,
    expires: EXPIRES,
    scenarios: ['pacman-alhp-layout'],
    drivers: ['pacman'],
    levels: below('v3'),
    explains: [deviation.notRunnable('sigill', 'lgpalhp', 'install')],
  }),
  defineKnownIssue({
    id: 'pacman-first-repository-wins/lagging',
    reason: "pacman takes a name from the first repository that has it, whatever the version: a lagging v3 repository listed first keeps 1.0 installed, on install and on -Syu, while [core] has 1.1",
    tracker: CACHYOS_LAGGING_V3,
    expires: EXPIRES,
    scenarios: ['pacman-lagging-repo'],
    drivers: ['pacman'],
    levels: atLeast('v3'),
    explains: [deviation.stale('lgplag', 'install'), deviation.stale('lgplag', 'upgrade')],
  }),
  defineKnownIssue({
    id: 'pacman-moved-keeps-v3/cachyos',
    reason:
      'after the move to a v2 CPU, with Architecture no longer listing x86_64_v3 and the v3 repository still listed, neither -Syu nor -Syuu replaces the installed v3 build ("there is nothing to do"): the first repository still offers the same version',
    tracker: CACHYOS_V3_BROKE_V2,
    expires: EXPIRES,
    scenarios: ['pacman-moved-cachyos'],
    drivers: ['pacman'],
    explains: [deviation.notRunnable('sigill', 'lgpmove', 'upgrade'), deviation.installedArch('lgpmove', 'distro-sync'), deviation.notRunnable('sigill', 'lgpmove', 'distro-sync')],
  }),
  defineKnownIssue({
    id: 'pacman-moved-keeps-v3/alhp',
    reason: "after the move to a v2 CPU and the ALHP repository taken out, -Syu keeps ALHP's v3 build: its pkgrel 1.1 is newer than [core]'s 1 (only -Syuu downgrades to [core]'s build)",
    tracker: PACMAN_AUTO_UNAME,
    expires: EXPIRES,
    scenarios: ['pacman-moved-alhp'],
    drivers: ['pacman'],
    explains: [deviation.notRunnable('sigill', 'lgpalhpmove', 'upgrade')],
  }),
];

const APT_NO_FALLBACK_REASON = "apt takes a standalone variant's index instead of the amd64 one (Ubuntu's archive layout): a name that index lacks is uninstallable and an older version in it beats a newer amd64 build, with no fallback";

/** apt 3.3 with Ubuntu's architecture variants (scenarios/apt-variants.ts and the catalog scenarios apt runs). */
const APT_ISSUES: readonly KnownIssue[] = [
  defineKnownIssue({
    id: 'apt-standalone-no-fallback/fresh-install',
    reason: `${APT_NO_FALLBACK_REASON}: lgpartial has no build in the CPU's variant index (v2, v4), so "Unable to locate package" and nothing of the install happens`,
    tracker: LP_2139113,
    expires: EXPIRES,
    scenarios: ['fresh-install-mixed'],
    drivers: ['apt'],
    levels: ['v2', 'v4'],
    explains: [
      deviation.refused('install', 'not-found'),
      deviation.notInstalled('lgmixed', 'install'),
      deviation.notInstalled('lgpartial', 'install'),
      deviation.doesNotRun('not-run', 'lgmixed', 'install'),
      deviation.doesNotRun('not-run', 'lgpartial', 'install'),
    ],
  }),
  defineKnownIssue({
    id: 'apt-standalone-no-fallback/variant-lags',
    reason: `${APT_NO_FALLBACK_REASON}: the v3 index has lglag 1.0 only, so a v3 or v4 machine installs 1.0 while amd64 1.1 exists`,
    tracker: LP_2139113,
    expires: EXPIRES,
    scenarios: ['variant-lags-baseline'],
    drivers: ['apt'],
    levels: atLeast('v3'),
    explains: [deviation.installedOlder('lglag', 'install'), deviation.stale('lglag', 'install')],
  }),
  defineKnownIssue({
    id: 'apt-no-architectures-is-standalone',
    reason: `a Release without Architectures "supports" every variant it hashes, so each variant index is standalone: ${APT_NO_FALLBACK_REASON}; the amd64-only lgabase is uninstallable on v3 and v4, and the install of both fails`,
    tracker: APT_STANDALONE_CHECK,
    expires: EXPIRES,
    scenarios: ['apt-no-architectures'],
    drivers: ['apt'],
    levels: ['v3'],
    explains: [
      deviation.refused('install', 'not-found'),
      deviation.notInstalled('lganoarch', 'install'),
      deviation.notInstalled('lgabase', 'install'),
      deviation.doesNotRun('not-run', 'lganoarch', 'install'),
      deviation.doesNotRun('not-run', 'lgabase', 'install'),
    ],
  }),
  defineKnownIssue({
    id: 'apt-moved-keeps-variant',
    reason:
      'on a disk moved to an older CPU apt enables fewer variants, but neither install --only-upgrade nor dist-upgrade replaces an installed build the CPU cannot run: the same version from a lower index is no upgrade, and nothing compares installed variants with the CPU (no warning either)',
    tracker: APT_VARIANTS_DECIDED,
    expires: EXPIRES,
    scenarios: ['moved-to-older-cpu'],
    drivers: ['apt'],
    levels: atLeast('v2'),
    explains: [deviation.notRunnable('sigill', 'lgmove', 'upgrade'), deviation.installedArch('lgmove', 'distro-sync'), deviation.notRunnable('sigill', 'lgmove', 'distro-sync')],
  }),
  defineKnownIssue({
    id: 'apt-test-table-v2-without-sse3',
    reason: "apt's own varianttable (its test table, the only one readable here) lists no pni in its amd64v2 row: on a v2 CPU without SSE3 apt enables amd64v2 where the psABI and glibc say x86-64 (v1)",
    tracker: APT_TEST_TABLE_V2,
    expires: EXPIRES,
    scenarios: ['detection'],
    targets: ['v2-sse3'],
    explains: [deviation.detectedArch('apt-test-table')],
  }),
  defineKnownIssue({
    id: 'apt-overlay-auto-never-selects',
    reason: 'an overlay variant index (hashed in Release, not listed in Architectures) under APT::Architecture-Variants "auto" is never preferred: apt orders versions by the configured list, which holds the literal word "auto", so the amd64 build wins',
    tracker: APT_VARIANT_ORDER_LITERAL,
    expires: EXPIRES,
    scenarios: ['apt-standalone-vs-overlay'],
    drivers: ['apt'],
    levels: atLeast('v2'),
    explains: [deviation.installedArch('lgaoverlay', 'install')],
  }),
  defineKnownIssue({
    id: 'apt-explicit-variant-no-cpu-check',
    reason: 'APT::Architecture-Variants "amd64v3" enables the v3 index with no look at the CPU (only "auto" reads the varianttable): a v3 build is installed on a CPU below v3 and dies of SIGILL',
    tracker: APT_EXPLICIT_NO_CPU_CHECK,
    expires: EXPIRES,
    scenarios: ['apt-explicit-variant-lower-cpu'],
    drivers: ['apt'],
    levels: below('v3'),
    explains: [deviation.installedArch('lgaexplicit', 'install'), deviation.notRunnable('sigill', 'lgaexplicit', 'install')],
  }),
];

export const KNOWN_ISSUES: readonly KnownIssue[] = [
  defineKnownIssue({
    id: 'dnf5-no-levels/ignorearch',
    reason: `${DNF5_REASON}; an x86_64_v3 build forced in with rpm --ignorearch is a foreign arch to it, so distro-sync leaves it installed (and its program dying) beside x86_64`,
    tracker: DNF5_NO_LEVELS,
    expires: EXPIRES,
    scenarios: ['ignorearch-both-variants'],
    drivers: ['dnf5'],
    explains: [deviation.installedBeside('lgdual', 'distro-sync'), deviation.notRunnable('sigill', 'lgdual', 'distro-sync')],
  }),
  defineKnownIssue({
    id: 'rpm-erase-removes-replaced-file/ignorearch',
    reason:
      'zypper dist-upgrade removes the forced x86_64_v3 build, and rpm erases the file it had replaced (--replacefiles): x86_64 stays registered without its program (rpm -V shows it missing)',
    tracker: RPM_ERASE_REPLACED_FILE,
    expires: EXPIRES,
    scenarios: ['ignorearch-both-variants'],
    drivers: ['zypper'],
    explains: [deviation.notRunnable('not-run', 'lgdual', 'distro-sync')],
  }),
  defineKnownIssue({
    id: 'libzypp-cpuid-without-xcr0/detection',
    reason: LIBZYPP_CPUID_ONLY_REASON,
    tracker: LIBZYPP_CPUID_ONLY,
    expires: EXPIRES,
    scenarios: ['detection'],
    targets: LIBZYPP_SEES_V3,
    explains: [deviation.detectedArch('libzypp')],
  }),
  defineKnownIssue({
    id: 'libzypp-cpuid-without-xcr0/fresh-install',
    reason: `${LIBZYPP_CPUID_ONLY_REASON}; zypper picks the x86_64_v3 builds, which rpm's transaction (libzypp's single_rpmtrans backend) refuses as "intended for a different architecture" (rpm reads XCR0: v2), so nothing is installed (and the later removal finds nothing); with rpm told to ignore the arch they would be installed and die of SIGILL`,
    tracker: LIBZYPP_CPUID_ONLY,
    expires: EXPIRES,
    scenarios: ['fresh-install-mixed'],
    drivers: ['zypper'],
    targets: LIBZYPP_SEES_V3,
    explains: [
      // rpm refuses the x86_64_v3 builds for their arch: nothing of the install is installed, so nothing of it runs ...
      deviation.refused('install', 'incompatible-arch'),
      ...['lgmixed', 'lgpartial'].flatMap((name) => [deviation.notInstalled(name, 'install'), deviation.doesNotRun('not-run', name, 'install')]),
      // ... and the scenario's later removal of what it installed finds nothing.
      deviation.refused('remove', 'not-found'),
    ],
  }),
  // The detection cell asks every detector whatever its driver: dnf5's answer is wrong on every CPU above v1.
  defineKnownIssue({
    id: 'dnf5-no-levels/detection',
    reason: DNF5_REASON,
    tracker: DNF5_NO_LEVELS,
    expires: EXPIRES,
    scenarios: ['detection'],
    levels: atLeast('v2'),
    explains: [deviation.detectedArch('dnf5-arch'), deviation.detectedArch('dnf5-basearch')],
  }),
  // v2 and up: lgmixed has a variant for the level; v3 and up: lgpartial too.
  dnf5NoLevels('fresh-install', 'fresh-install-mixed', atLeast('v2'), [deviation.installedArch('lgmixed', 'install'), deviation.installedArch('lgpartial', 'install')]),
  dnf5NoLevels('upgrade', 'upgrade-new-variant', atLeast('v3'), [deviation.installedArch('lgnewvar', 'upgrade')]),
  dnf5NoLevels('install-v3', 'upgrade-baseline-only', atLeast('v3'), [deviation.installedArch('lgstale', 'install')]),
  dnf5NoLevels('distro-sync', 'distro-sync-switch', atLeast('v3'), [deviation.installedArch('lgsync', 'distro-sync')]),
  // The x86_64 build it installed still runs after the move, where the right variant would trap.
  dnf5NoLevels('moved', 'moved-to-older-cpu', atLeast('v2'), [
    deviation.installedArch('lgmove', 'install'),
    deviation.ranInsteadOfTrapping('lgmove', 'move-to'),
    deviation.installedArch('lgmove', 'distro-sync'),
  ]),
  dnf5NoLevels('subpackage', 'subpackage-baseline-only', atLeast('v3'), [deviation.installedArch('lgsub', 'install')]),
  dnf5NoLevels('noarch', 'noarch-transition', atLeast('v3'), [deviation.installedArch('lgnoarch', 'upgrade')]),
  defineKnownIssue({
    id: 'dnf5-local-v3-refused',
    reason: 'dnf5 refuses a local x86_64_v3 rpm even on a v3 CPU ("does not have a compatible architecture")',
    tracker: DNF5_LOCAL_V3,
    expires: EXPIRES,
    scenarios: ['local-file-v3'],
    drivers: ['dnf5'],
    levels: atLeast('v3'),
    explains: [deviation.refused('install-file', 'incompatible-arch'), deviation.notInstalled('lglocal', 'install-file'), deviation.doesNotRun('not-run', 'lglocal', 'install-file')],
  }),
  defineKnownIssue({
    id: 'zypper-local-arch-refusal-says-not-found',
    reason:
      "zypper refuses a local x86_64_v3 rpm on a CPU below v3 without saying why: libzypp drops it from the pool as it reads it, and zypper reports \"No provider of '_tmpRPMcache_:NAME=EVR' found\", the message it also gives for other causes. " +
      'No report of the arch case was found; the tracker is the report of the same message for another cause.',
    tracker: 'https://github.com/openSUSE/zypper/issues/551',
    expires: EXPIRES,
    scenarios: ['local-file-v3'],
    drivers: ['zypper'],
    // Where libzypp itself takes the CPU for v3 it keeps the package, and rpm's transaction refuses it in words that say why.
    targets: ALL_TARGETS.filter((t) => below('v3').includes(t.level) && !LIBZYPP_SEES_V3.includes(t.name)).map((t) => t.name),
    explains: [deviation.refusedForAnotherReason('install-file', 'not-found')],
  }),
  defineKnownIssue({
    id: 'libsolv-best-arch-before-version',
    reason: 'libsolv prunes candidates to the best arch before the best version: a v3 machine installs the older x86_64_v3 1.0 over x86_64 1.1',
    tracker: BEST_ARCH_BEFORE_VERSION,
    expires: EXPIRES,
    scenarios: ['variant-lags-baseline'],
    drivers: ['zypper'],
    levels: atLeast('v3'),
    explains: [deviation.installedOlder('lglag', 'install'), deviation.stale('lglag', 'install')],
  }),
  defineKnownIssue({
    id: 'libsolv-no-variant-switch-on-update',
    reason: 'update never switches variant: libsolv treats x86_64 → x86_64_v3 as a forbidden arch change, so the machine stays on x86_64',
    tracker: NO_ARCH_CHANGE_ON_UPDATE,
    expires: EXPIRES,
    scenarios: ['upgrade-new-variant'],
    drivers: ['zypper'],
    levels: atLeast('v3'),
    explains: [deviation.installedArch('lgnewvar', 'upgrade')],
  }),
  defineKnownIssue({
    id: 'libsolv-silent-stale-update',
    reason: 'the silent stale case: a newer version built only for x86_64 is neither listed nor installed over x86_64_v3 ("Nothing to do", exit 0)',
    tracker: NO_ARCH_CHANGE_ON_UPDATE,
    expires: EXPIRES,
    scenarios: ['upgrade-baseline-only'],
    drivers: ['zypper'],
    levels: atLeast('v3'),
    explains: [deviation.updateNotListed(), deviation.installedOlder('lgstale', 'upgrade'), deviation.stale('lgstale', 'upgrade')],
  }),
  defineKnownIssue({
    id: 'libsolv-subpackage-stall',
    reason: 'the x86_64_v3 main package holds its x86_64-only subpackage back: taking libs 1.1 needs main 1.1, another arch, so update stalls silently',
    tracker: NO_ARCH_CHANGE_ON_UPDATE,
    expires: EXPIRES,
    scenarios: ['subpackage-baseline-only'],
    drivers: ['zypper'],
    levels: atLeast('v3'),
    explains: ['lgsub', 'lgsub-libs'].flatMap((name) => [deviation.installedOlder(name, 'upgrade'), deviation.stale(name, 'upgrade')]),
  }),
  defineKnownIssue({
    id: 'libsolv-update-keeps-unrunnable-variant',
    reason: 'on a disk moved to an older CPU, update keeps the variant the CPU cannot run (switching back to a lower variant is a forbidden arch change); only dist-upgrade repairs it',
    tracker: NO_ARCH_CHANGE_ON_UPDATE,
    expires: EXPIRES,
    scenarios: ['moved-to-older-cpu'],
    drivers: ['zypper'],
    levels: atLeast('v2'),
    explains: [deviation.notRunnable('sigill', 'lgmove', 'upgrade')],
  }),
  dnf5NoLevels('release-upgrade', 'release-upgrade', atLeast('v3'), [deviation.installedArch('lgrel-core', 'release-upgrade')]),
  // After the move, the v4 cell's disk is on a v3 CPU, where lgrel-core has a variant again.
  dnf5NoLevels('release-upgrade-moved', 'release-upgrade-moved', atLeast('v3'), [deviation.installedArch('lgrel-core', 'release-upgrade'), deviation.installedArch('lgrel-core', 'distro-sync')]),
  defineKnownIssue({
    id: 'zstd-bmi2-path-assumes-lzcnt',
    reason:
      "rpm cannot unpack a zstd payload on a CPU with BMI1 and BMI2 but no LZCNT: libzstd's BMI2 decoder uses LZCNT, which that CPU runs as BSR, " +
      "so the payload decodes to garbage ('unpacking of archive failed: cpio: Bad magic'). No report of it exists; the tracker is the zstd change that brought LZCNT into the path.",
    tracker: ZSTD_BMI2_USES_LZCNT,
    expires: EXPIRES,
    scenarios: ['payload-zstd'],
    targets: zstdBmi2Targets(),
    // rpm's message ("cpio: Bad magic") names no refusal reason it has: unrecognised.
    explains: [deviation.refused('install-file', 'unrecognised'), deviation.notInstalled('lgzstd', 'install-file'), deviation.doesNotRun('not-run', 'lgzstd', 'install-file')],
  }),
  ...hwcapsPatternIssues(),
  ...auditIssues(),
  ...PACMAN_ISSUES,
  ...APT_ISSUES,
];
