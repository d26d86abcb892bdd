import { atLeast, best, defineScenario, distroSync, enable, install, moveTo, overrideArch, upgrade, variants, type PackageBuild } from '../harness/index.js';

/**
 * pacman's level repositories, as Arch derivatives serve them: pacman itself has no
 * level detection (`Architecture = auto` is uname -m) and reads repositories in
 * pacman.conf's order, the first that has a name winning whatever the version.
 * - CachyOS: packages labelled x86_64_v3 in repositories listed above Arch's; its own
 *   pacman expands `auto` to the levels the CPU has, upstream's needs the list written
 *   (`Architecture = x86_64 x86_64_v3`).
 * - ALHP: Arch's packages rebuilt for a level, labelled x86_64 (the level only in the
 *   repository's name, the pkgrel bumped to 1.1), listed above [core].
 * Each scenario states the correct outcome; what pacman 7.1 does instead is a known
 * issue (scenarios/known-issues.ts).
 */

/** CachyOS's layout: a v3 repository above the baseline one. Correct: the best variant the CPU runs, under pacman's own setting. */
export const pacmanCachyosLayout = defineScenario({
  id: 'pacman-cachyos-layout',
  title: 'pacman: a CachyOS-style x86_64_v3 repository above the baseline one gives the best variant',
  tags: ['pacman', 'install', 'selection'],
  drivers: ['pacman'],
  repos: { 'cachyos-v3': variants('lgpcachy', '1.0', ['x86_64_v3']), core: variants('lgpcachy', '1.0', ['x86_64']) },
  steps: [enable('cachyos-v3', 'core'), install('lgpcachy').expect({ installed: { lgpcachy: best }, runs: ['lgpcachy'] })],
});

/** The same with the architecture list a CachyOS user writes into upstream pacman's configuration: correct is still nothing the CPU cannot run. */
export const pacmanCachyosArchitecture = defineScenario({
  id: 'pacman-cachyos-architecture',
  title: 'pacman: Architecture = x86_64 x86_64_v3 installs nothing the CPU cannot run',
  tags: ['pacman', 'install', 'sigill'],
  drivers: ['pacman'],
  repos: { 'cachyos-v3': variants('lgpcachyarch', '1.0', ['x86_64_v3']), core: variants('lgpcachyarch', '1.0', ['x86_64']) },
  steps: [overrideArch('x86_64_v3'), enable('cachyos-v3', 'core'), install('lgpcachyarch').expect({ installed: { lgpcachyarch: best }, runnable: true })],
});

/** ALHP's v3 build: labelled x86_64, compiled for x86-64-v3, pkgrel 1.1. */
const alhp = (name: string, version: string): PackageBuild => ({ name, version, release: '1.1', arch: 'x86_64', compiledFor: 'v3' });

/** ALHP's layout: its v3 repository above [core]. Correct: nothing the CPU cannot run (pacman sees only "x86_64" in both). */
export const pacmanAlhpLayout = defineScenario({
  id: 'pacman-alhp-layout',
  title: 'pacman: an ALHP-style x86-64-v3 repository (packages labelled x86_64) above [core] installs nothing the CPU cannot run',
  tags: ['pacman', 'install', 'sigill'],
  drivers: ['pacman'],
  repos: { 'core-x86-64-v3': [alhp('lgpalhp', '1.0')], core: variants('lgpalhp', '1.0', ['x86_64']) },
  steps: [enable('core-x86-64-v3', 'core'), install('lgpalhp').expect({ runnable: true })],
});

/**
 * Repository order against version: the v3 repository lags (1.0) behind the baseline
 * one (1.1). Correct: the newest version the CPU runs, on install and on -Syu.
 */
export const pacmanLaggingRepo = defineScenario({
  id: 'pacman-lagging-repo',
  title: 'pacman: a lagging v3 repository listed first does not hold the machine back',
  tags: ['pacman', 'install', 'upgrade', 'stale'],
  drivers: ['pacman'],
  levels: atLeast('v3'),
  repos: { 'cachyos-v3': variants('lgplag', '1.0', ['x86_64_v3']), core: variants('lgplag', '1.1', ['x86_64']) },
  steps: [
    overrideArch('x86_64_v3'),
    enable('cachyos-v3', 'core'),
    install('lgplag').expect({ current: ['lgplag'], runs: ['lgplag'] }),
    upgrade().expect({ current: ['lgplag'], runs: ['lgplag'] }),
  ],
});

/**
 * A disk with CachyOS's v3 builds moved to a v2 CPU, whose Architecture no longer
 * lists x86_64_v3 (what CachyOS's `auto` says there), the v3 repository still listed.
 * Correct: after -Syu every installed program runs; -Syuu brings the baseline build.
 */
export const pacmanMovedCachyos = defineScenario({
  id: 'pacman-moved-cachyos',
  title: 'pacman: -Syu and -Syuu on a disk with CachyOS v3 builds moved to a v2 CPU',
  tags: ['pacman', 'migration', 'distro-sync', 'sigill'],
  drivers: ['pacman'],
  levels: ['v3'],
  repos: { 'cachyos-v3': variants('lgpmove', '1.0', ['x86_64_v3']), core: variants('lgpmove', '1.0', ['x86_64']) },
  steps: [
    overrideArch('x86_64_v3'),
    enable('cachyos-v3', 'core'),
    install('lgpmove').expect({ installed: { lgpmove: '1.0-1.x86_64_v3' } }),
    moveTo('one-below').expect({ dies: ['lgpmove'] }),
    overrideArch('x86_64_v2'),
    upgrade().expect({ runnable: true }),
    distroSync().expect({ installed: { lgpmove: best }, runnable: true }),
  ],
});

/**
 * A disk with ALHP's v3 builds (pkgrel 1.1) moved to a v2 CPU; the user takes the
 * level repository out, as ALHP asks where the CPU lacks the level. Correct: after
 * -Syu every installed program runs; -Syuu brings [core]'s build.
 */
export const pacmanMovedAlhp = defineScenario({
  id: 'pacman-moved-alhp',
  title: 'pacman: -Syu and -Syuu on a disk with ALHP v3 builds moved to a v2 CPU',
  tags: ['pacman', 'migration', 'distro-sync', 'sigill'],
  drivers: ['pacman'],
  levels: ['v3'],
  repos: { 'core-x86-64-v3': [alhp('lgpalhpmove', '1.0')], core: variants('lgpalhpmove', '1.0', ['x86_64']) },
  steps: [
    enable('core-x86-64-v3', 'core'),
    install('lgpalhpmove').expect({ installed: { lgpalhpmove: '1.0-1.1.x86_64' } }),
    moveTo('one-below').expect({ dies: ['lgpalhpmove'] }),
    enable('core'),
    upgrade().expect({ runnable: true }),
    distroSync().expect({ installed: { lgpalhpmove: best }, runnable: true }),
  ],
});

export const PACMAN_SCENARIOS = [pacmanCachyosLayout, pacmanCachyosArchitecture, pacmanAlhpLayout, pacmanLaggingRepo, pacmanMovedCachyos, pacmanMovedAlhp];
