// levelgate's public API: what a project's scenario files and configuration import
// (`import { defineScenario, install, best } from 'levelgate'`). The built-in catalog
// (scenarios/) is written with exactly this API.
export {
  aptRepo,
  attached,
  atLeast,
  below,
  best,
  bestArch,
  defineScenario,
  detect,
  distroSync,
  downgrade,
  enable,
  install,
  installFile,
  installNewRecommends,
  levelBelow,
  listUpdates,
  moveTo,
  overrideArch,
  pin,
  reboot,
  releaseUpgrade,
  remove,
  rpmArchOf,
  setEnv,
  upgrade,
  variants,
  type ScenarioInput,
  type StepBuilder,
} from './scenario/api.js';
export { defineConfig, type LevelgateConfig, type VariantAuditConfig } from './config/config.js';
export { defineKnownIssue, deviation, type KnownIssueInput } from './plan/known-issue-api.js';
export type { KnownIssue, DeviationMatcher } from './plan/known-issues.js';
export type { LevelName } from './levels/table.js';
export { ALL_NEAR_MISSES, ALL_TARGETS, NEAR_MISS_TARGETS, describeTarget, type CpuTarget } from './levels/targets.js';
export type { RpmArch } from './levels/arch.js';
export {
  HWCAPS_PATTERNS,
  hwcapsDirOf,
  hwcapsOverlayBuild,
  hwcapsPatternBuild,
  patternsDue,
  patternsSelected,
  type HwcapsLevel,
  type HwcapsPattern,
} from './repos/hwcaps-patterns.js';
export type {
  AptLayout,
  ArchSetting,
  DriverName,
  Expectation,
  ExpectContext,
  HwcapsDir,
  PackageBuild,
  Refusal,
  Scenario,
  Step,
} from './scenario/types.js';
export type { CellResult, CheckResult, RunResult, Verdict } from './results/types.js';
