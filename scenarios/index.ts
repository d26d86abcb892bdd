// The scenario catalog, in the order reports list it.
import type { Scenario } from '../harness/index.js';
import { APT_SCENARIOS } from './apt-variants.js';
import archOverride from './arch-override.js';
import archPin from './arch-pin.js';
import detection from './detection.js';
import distroSyncSwitch from './distro-sync-switch.js';
import freshInstallMixed from './fresh-install-mixed.js';
import glibcHwcaps from './glibc-hwcaps.js';
import glibcTunables from './glibc-tunables.js';
import ignorearch from './ignorearch.js';
import hwcapsPattern from './hwcaps-pattern.js';
import localFileV3 from './local-file-v3.js';
import movedToOlderCpu from './moved-to-older-cpu.js';
import noarchTransition from './noarch-transition.js';
import { PACMAN_SCENARIOS } from './pacman-repos.js';
import payloadZstd from './payload-zstd.js';
import releaseUpgrade, { releaseUpgradeMoved } from './release-upgrade.js';
import subpackageBaselineOnly from './subpackage-baseline-only.js';
import upgradeBaselineOnly from './upgrade-baseline-only.js';
import upgradeNewVariant from './upgrade-new-variant.js';
import variantLagsBaseline from './variant-lags-baseline.js';

export const CATALOG: readonly Scenario[] = [
  detection,
  freshInstallMixed,
  variantLagsBaseline,
  upgradeNewVariant,
  upgradeBaselineOnly,
  distroSyncSwitch,
  movedToOlderCpu,
  localFileV3,
  archPin,
  subpackageBaselineOnly,
  noarchTransition,
  glibcHwcaps,
  glibcTunables,
  archOverride,
  ignorearch,
  hwcapsPattern,
  payloadZstd,
  releaseUpgrade,
  releaseUpgradeMoved,
  ...APT_SCENARIOS,
  ...PACMAN_SCENARIOS,
];
