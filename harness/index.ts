// levelgate's public API: what a project's scenario files, configuration and reporters
// import (`import { defineScenario, install, best } from 'levelgate'`), and run() for
// programs that gate as `levelgate gate` does. The built-in catalog (scenarios/) is
// written with exactly this API.
import type { RunOptions, RunOutcome } from './config/run-project.js';

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
export { any, type Any, type KnownIssue, type DeviationMatcher } from './plan/known-issues.js';
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
export type { AptLayout, Expectation, ExpectContext, HwcapsDir, PackageBuild, Scenario, Step } from './scenario/types.js';
export type { ArchSetting, DriverName, Refusal } from './model/package-manager.js';
export type { CellResult, CheckResult, RunResult, Verdict } from './results/types.js';
export type { CellRef, CommandRecord, StepRecord } from './results/types.js';
export type { Reporter, ReporterOptions, ReporterSpec, RunStart } from './report/reporter.js';
export type { LegacyReportPaths } from './config/config.js';
export type { RunOptions, RunOutcome } from './config/run-project.js';
export type { Selection } from './plan/selection.js';

/**
 * Runs a gate as `levelgate gate` does (the command calls this): the project loaded and
 * checked, the cells planned, guests booted, every reporter told; resolves to the
 * results and the exit code they earn. Usage errors reject with a UsageError naming the
 * file, field or option.
 *
 *   const { result, exitCode } = await run({ config: 'levelgate.config.ts', levels: ['v3'], reporters: ['json'] });
 */
export async function run(options: RunOptions = {}): Promise<RunOutcome> {
  // Loaded on call: scenario files import this module, and need none of the engine.
  const engine = await import('./config/run-project.js');
  return engine.run(options);
}
