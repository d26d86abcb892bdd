// What a project's levelgate.config.ts declares (Playwright's defineConfig is the
// model): its scenario files, repositories, known issues and how to run. Everything is
// optional; command-line flags override it. Paths are relative to the configuration file.
//
//   import { defineConfig } from 'levelgate';
//   export default defineConfig({
//     scenarios: ['scenarios/'],
//     repos: { compose: '/srv/compose/Everything/x86_64/os' },
//     knownIssues: ['known-issues.ts'],
//     levels: ['v1', 'v2', 'v3'],
//     variantAudit: { repos: ['compose'], sample: 20 },
//   });
import type { AccelRequest } from '../model/accel.js';
import type { RequiredFidelity } from '../accel/fidelity.js';
import type { KnownIssue } from '../plan/known-issues.js';
import type { ReporterSpec } from '../report/reporter.js';
import type { DriverName } from '../model/package-manager.js';

export interface VariantAuditConfig {
  /** Attached repositories to audit (default: all attached; without any, the fixture repositories). */
  readonly repos?: readonly string[];
  /** Only these package names (default: every name built in more than one arch). */
  readonly packages?: readonly string[];
  /** At most N of them, chosen deterministically (every N-th name in order). */
  readonly sample?: number;
  readonly drivers?: readonly DriverName[];
}

export interface LevelgateConfig {
  /** Scenario files or directories of them (.ts, .mts, .js, .mjs); each exports a scenario or an array as default. */
  readonly scenarios?: readonly string[];
  /** Also run levelgate's built-in catalog (default: only when no scenario files are given). */
  readonly builtinCatalog?: boolean;
  /** Repositories to attach read-only to every guest: name → a createrepo_c directory. */
  readonly repos?: Readonly<Record<string, string>>;
  /** Known issues: entries, or files whose default export is an array of them. */
  readonly knownIssues?: readonly (KnownIssue | string)[];
  /** Levels (v1-v4) and near misses ("v3-fma") to run; default every level. */
  readonly levels?: readonly string[];
  /** Add every near-miss CPU for the scenarios made for them (as --near-misses). */
  readonly nearMisses?: boolean;
  readonly drivers?: readonly DriverName[];
  readonly workers?: number;
  readonly accel?: AccelRequest;
  /**
   * A level this host cannot provide is an error, not a skip; so is a level provided only
   * by a guest that cannot trap (KVM masking CPUID at v1/v2): it does not count as provided.
   */
  readonly requireLevels?: boolean;
  /** 'traps': any cell whose guest cannot trap the instructions above its CPU is an error (as --require-fidelity traps). */
  readonly requireFidelity?: RequiredFidelity;
  /** Seconds. */
  readonly cellTimeout?: number;
  /** Extra attempts of a cell after an emulator error (guest death, boot timeout, lost agent); nothing else is retried. */
  readonly retries?: number;
  /** A cell a retry settled after an emulator error makes the run exit 1 (as --fail-on-flaky). */
  readonly failOnFlaky?: boolean;
  /** Generated variant-audit scenarios: install each multi-variant package and check the best variant runs. */
  readonly variantAudit?: boolean | VariantAuditConfig;
  /**
   * Distribution images to gate instead of the default guest: name → a qcow2 or raw cloud
   * image (relative to this file). `--image NAME` (or a path) picks one; with only one
   * listed, it is used without the flag.
   */
  readonly images?: Readonly<Record<string, string>>;
  /**
   * The reporters (default: terminal, json, junit, html at reports/): built-in names or
   * module paths, each alone or with its options, e.g.
   * `['terminal', ['junit', { outputFile: 'out/junit.xml' }], './my-reporter.ts']`
   * (`--reporter` replaces the list). The older form `{ junit, html, json, evidence }`
   * sets the built-ins' paths (false: not written).
   */
  readonly reporters?: readonly ReporterSpec[] | LegacyReportPaths;
  /** Where each cell's console logs, forensics and reproducers go (default reports/evidence). */
  readonly evidence?: string;
  /**
   * Names the run: cell ids become scenario[level,driver]@NAME, so `levelgate merge`
   * joins the results of several projects or images. Default: the gated image's name
   * when an image is gated, else nothing.
   */
  readonly name?: string;
}

/** The paths of the built-in file reporters, as older configurations give them (false: not written). */
export interface LegacyReportPaths {
  readonly junit?: string | false;
  readonly html?: string | false;
  readonly json?: string | false;
  readonly evidence?: string;
}

export const CONFIG_FIELDS = [
  'scenarios',
  'builtinCatalog',
  'repos',
  'knownIssues',
  'levels',
  'nearMisses',
  'drivers',
  'workers',
  'accel',
  'requireLevels',
  'requireFidelity',
  'cellTimeout',
  'retries',
  'failOnFlaky',
  'variantAudit',
  'reporters',
  'evidence',
  'name',
  'images',
] as const satisfies readonly (keyof LevelgateConfig)[];

/** Declares a project's configuration; the loader checks every field and names the ones it cannot use. */
export function defineConfig(config: LevelgateConfig): LevelgateConfig {
  return config;
}
