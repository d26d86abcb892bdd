import { aptRepo, atLeast, below, best, defineScenario, detect, distroSync, enable, install, overrideArch, upgrade, variants, type HwcapsDir } from '../harness/index.js';
import { picks } from './glibc-hwcaps.js';

/**
 * apt's own mechanisms (Ubuntu's architecture variants, apt >= 3.1.10): a variant's
 * builds sit in an index of their own (binary-amd64v3/Packages, stanzas with
 * `Architecture-Variant: amd64v3`); APT::Architecture-Variants "auto" (the guest
 * image's setting) enables the variants whose varianttable flags every CPU of
 * /proc/cpuinfo has. Each scenario states the correct outcome; what apt 3.3 does
 * instead is a known issue (scenarios/known-issues.ts).
 */

/** 1.1 arrives for amd64 and amd64v3 over an installed amd64 1.0: the upgrade brings 1.1 in the best variant (the catalog's upgrade-new-variant, without its downgrade: apt downgrades only to a version named). */
export const aptUpgradeNewVariant = defineScenario({
  id: 'apt-upgrade-new-variant',
  title: 'apt: upgrade when a newer version appears with a variant build',
  tags: ['apt', 'upgrade', 'selection'],
  drivers: ['apt'],
  repos: { base: variants('lganewvar', '1.0', ['x86_64']), updates: variants('lganewvar', '1.1', ['x86_64', 'x86_64_v3']) },
  steps: [
    enable('base'),
    install('lganewvar').expect({ installed: { lganewvar: '1.0-1.x86_64' } }),
    enable('base', 'updates'),
    upgrade('lganewvar').expect({ installed: { lganewvar: best }, runs: ['lganewvar'] }),
  ],
});

const OVERLAY_BUILDS = variants('lgaoverlay', '1.0', ['x86_64', 'x86_64_v2', 'x86_64_v3']);

/**
 * Standalone against overlay: the same builds, once with the variants listed in
 * Release `Architectures:` (each index replaces the base one) and once hashed but
 * unlisted (an overlay beside the base index, as a PPA adding variants to an archive
 * would publish them). Correct, either way: the best variant the CPU runs.
 */
export const aptStandaloneVsOverlay = defineScenario({
  id: 'apt-standalone-vs-overlay',
  title: 'apt: a variant index listed in Architectures (standalone) or not (overlay) gives the same best variant',
  tags: ['apt', 'install', 'selection'],
  drivers: ['apt'],
  repos: { standalone: aptRepo(variants('lgastand', '1.0', ['x86_64', 'x86_64_v2', 'x86_64_v3']), 'standalone'), overlay: aptRepo(OVERLAY_BUILDS, 'overlay') },
  steps: [
    enable('standalone'),
    install('lgastand').expect({ installed: { lgastand: best }, runs: ['lgastand'] }),
    enable('overlay'),
    install('lgaoverlay').expect({ installed: { lgaoverlay: best }, runs: ['lgaoverlay'] }),
  ],
});

/**
 * A Release without `Architectures:` (older tools write none): the archive still offers
 * its packages, in the best variant. At v3 only: on a CPU whose highest variant has no
 * index here (v1, v2, v4; this archive has amd64 and amd64v3), apt says "W: Skipping
 * acquire of configured file 'main/binary-amd64v2/Packages'", which the apt driver
 * takes as a repository apt did not read (an error, never a verdict) — measured
 * 2026-12-07 at v2.
 */
export const aptNoArchitectures = defineScenario({
  id: 'apt-no-architectures',
  title: 'apt: a repository whose Release has no Architectures field still offers its packages',
  tags: ['apt', 'install', 'repository'],
  drivers: ['apt'],
  levels: ['v3'],
  repos: { main: aptRepo([...variants('lganoarch', '1.0', ['x86_64', 'x86_64_v3']), ...variants('lgabase', '1.0', ['x86_64'])], 'no-architectures') },
  steps: [enable('main'), install('lganoarch', 'lgabase').expect({ installed: { lganoarch: best, lgabase: best }, runs: ['lganoarch', 'lgabase'] })],
});

/**
 * An explicit variant on a CPU below it (a cloud image that hard-codes amd64v3 booted
 * on an older host, plaso#5204): correct is that apt installs nothing the CPU cannot
 * run — the best variant it runs, or a refusal — never a v3 build on a v2 CPU.
 */
export const aptExplicitVariantLowerCpu = defineScenario({
  id: 'apt-explicit-variant-lower-cpu',
  title: 'apt: APT::Architecture-Variants "amd64v3" on a CPU below v3 installs nothing it cannot run',
  tags: ['apt', 'install', 'sigill'],
  drivers: ['apt'],
  levels: below('v3'),
  repos: { main: variants('lgaexplicit', '1.0', ['x86_64', 'x86_64_v3']) },
  steps: [
    overrideArch('x86_64_v3'),
    enable('main'),
    install('lgaexplicit').expect({ installed: { lgaexplicit: best }, runnable: true }),
  ],
});

/**
 * Removing the variant setting (APT::Architecture-Variants gone: amd64 only) after
 * variant builds were installed: correct is that the full upgrade takes the machine to
 * what the setting now asks for (amd64 builds), every program running, and apt's
 * detector says no variant is enabled.
 */
export const aptRemoveVariantSetting = defineScenario({
  id: 'apt-remove-variant-setting',
  title: 'apt: removing the variant setting takes installed variants back to amd64 on dist-upgrade',
  tags: ['apt', 'distro-sync', 'configuration'],
  drivers: ['apt'],
  levels: atLeast('v3'),
  repos: { main: variants('lgaremove', '1.0', ['x86_64', 'x86_64_v3']) },
  steps: [
    enable('main'),
    install('lgaremove').expect({ installed: { lgaremove: '1.0-1.x86_64_v3' } }),
    overrideArch('default'),
    detect().expect({ detectors: { 'apt-variants': 'x86_64' } }),
    enable('main'),
    distroSync().expect({ installed: { lgaremove: '1.0-1.x86_64' }, runnable: true }),
  ],
});

const HWCAPS_DIRS: readonly HwcapsDir[] = ['x86-64-v2', 'x86-64-v3', 'x86-64-v4'];

/**
 * glibc-hwcaps the Debian way: one amd64 .deb with its library in the multiarch
 * directory /usr/lib/x86_64-linux-gnu and copies in its glibc-hwcaps/x86-64-vN/
 * subdirectories (no RUNPATH: a default directory of the loader). Correct: the loader
 * picks the highest copy the CPU runs, whatever apt's variants say.
 */
export const aptGlibcHwcapsMultiarch = defineScenario({
  id: 'apt-glibc-hwcaps-multiarch',
  title: "apt: glibc-hwcaps libraries in Debian's multiarch path are picked per level",
  tags: ['apt', 'hwcaps', 'loader'],
  drivers: ['apt'],
  repos: { main: [{ name: 'lgahwcaps', version: '1.0', arch: 'x86_64', kind: 'hwcaps', hwcaps: HWCAPS_DIRS, libdir: 'multiarch' }] },
  steps: [enable('main'), install('lgahwcaps').expect(({ level }) => ({ loads: { lgahwcaps: picks(level, HWCAPS_DIRS) } }))],
});

export const APT_SCENARIOS = [aptUpgradeNewVariant, aptStandaloneVsOverlay, aptNoArchitectures, aptExplicitVariantLowerCpu, aptRemoveVariantSetting, aptGlibcHwcapsMultiarch];
