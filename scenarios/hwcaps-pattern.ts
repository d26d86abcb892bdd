import {
  defineScenario,
  enable,
  HWCAPS_PATTERNS,
  hwcapsDirOf,
  hwcapsOverlayBuild,
  hwcapsPatternBuild,
  install,
  installNewRecommends,
  moveTo,
  patternsDue,
  type Expectation,
  type ExpectContext,
  type PackageBuild,
} from '../harness/index.js';

/**
 * gzip payloads: rpm's zstd decoder miscomputes on a CPU with BMI2 but no LZCNT
 * (scenario payload-zstd), which would hide on v3-lzcnt what this scenario is about.
 */
const PAYLOAD = 'gzip';
/** What stands for the Debian guest's glibc in the rpm database: on openSUSE glibc is always installed, and the patterns need it. */
const GLIBC: PackageBuild = { name: 'lgglibc', version: '1.0', arch: 'x86_64', kind: 'none', provides: ['glibc'], payload: PAYLOAD };
/** The library (in /usr/lib64) and its program, which prints the copy the loader chose. */
export const LIBRARY: PackageBuild = { name: 'lgpat', version: '1.0', arch: 'x86_64', kind: 'hwcaps', requires: ['glibc'], payload: PAYLOAD };
const PATTERNS = HWCAPS_PATTERNS.map((p): PackageBuild => ({ ...hwcapsPatternBuild(p), payload: PAYLOAD }));
const OVERLAYS = HWCAPS_PATTERNS.map((p): PackageBuild => ({ ...hwcapsOverlayBuild(LIBRARY, p.level), payload: PAYLOAD }));
const installedAs = (b: PackageBuild) => `${b.version}-${b.release ?? '1'}.${b.arch}`;

/**
 * After inr: exactly the patterns of the levels the CPU meets — those whose level's own
 * glob matches the CPU's modalias — and their library packages, nothing above; the
 * program loads the highest copy.
 */
function afterInr({ target }: ExpectContext): Expectation {
  const due = patternsDue(target);
  const installed: Record<string, string | null> = {};
  for (const [i, pattern] of HWCAPS_PATTERNS.entries()) {
    installed[pattern.name] = due.includes(pattern) ? installedAs(PATTERNS[i]!) : null;
    installed[OVERLAYS[i]!.name] = due.includes(pattern) ? installedAs(OVERLAYS[i]!) : null;
  }
  const top = due.at(-1);
  return { installed, loads: { lgpat: top ? hwcapsDirOf(top.level) : 'baseline' } };
}

/**
 * openSUSE's glibc-hwcaps way, as Tumbleweed rolled it out: a system has glibc and a
 * library; a snapshot adds the patterns (each `Supplements: modalias(glibc:cpu:type:x86*
 * :feature:*...)`, the CPU features of its level) and the per-level library packages
 * (each supplementing "library and pattern"); `zypper inr` then installs the patterns
 * the CPU's modalias matches and the library packages they bring. The v3 pattern is
 * openSUSE's own; v2 and v4 are written the same way (openSUSE ships none, though
 * mkbaselibs already names them). Moved to a v1 CPU, the program still runs: glibc
 * skips the hwcaps directories the CPU cannot use.
 */
export default defineScenario({
  id: 'hwcaps-pattern',
  title: "openSUSE's glibc-hwcaps patterns: zypper inr selects by CPU modalias, the loader picks, and falls back on an older CPU",
  tags: ['hwcaps', 'opensuse', 'pattern', 'loader'],
  drivers: ['zypper'],
  nearMisses: true,
  repos: {
    tumbleweed: [GLIBC, LIBRARY],
    hwcaps: [...PATTERNS, ...OVERLAYS],
  },
  steps: [
    enable('tumbleweed'),
    install('lgglibc', 'lgpat').expect({ installed: { lgglibc: installedAs(GLIBC), lgpat: installedAs(LIBRARY) }, loads: { lgpat: 'baseline' } }),
    enable('tumbleweed', 'hwcaps'),
    installNewRecommends().expect(afterInr),
    moveTo('v1').expect({ loads: { lgpat: 'baseline' } }),
  ],
});
