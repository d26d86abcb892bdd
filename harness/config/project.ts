// What a run (gate, repro, check, run()) runs: the project's configuration (or the
// built-in catalog), the repositories attached by flags and configuration, the
// generated variant audit, and the known issues; checked as a whole before anything
// boots.
import path from 'node:path';
import type { KnownIssue } from '../plan/known-issues.js';
import { planCells } from '../plan/plan.js';
import { knownIssueProblems, offeredBy, planProblems } from '../plan/validate-plan.js';
import { readAttachedRepos, type AttachRequest } from '../repos/attach.js';
import type { AttachedRepo } from '../repos/catalog.js';
import { attached } from '../scenario/api.js';
import type { RepoSpec, Scenario } from '../scenario/types.js';
import type { DriverName, RepoFormat } from '../model/package-manager.js';
import { validateScenarios } from '../scenario/validate.js';
import { fixtureAuditSource, variantAuditScenarios } from '../scenario/variant-audit.js';
import type { ImageRequest } from '../run/distribution.js';
import { throwProblems, UsageError } from '../util/errors.js';
import { builtinCatalog } from './builtin.js';
import type { LevelgateConfig, VariantAuditConfig } from './config.js';
import { loadProject, type Project } from './load.js';
import { sourceLines } from './source-lines.js';

export interface ResolvedProject {
  readonly project: Project;
  /** Every scenario that can run: built-in catalog, the project's, the variant audit. */
  readonly scenarios: readonly Scenario[];
  /** The scenarios whose fixture repositories must be built. */
  readonly fixtureScenarios: readonly Scenario[];
  readonly knownIssues: readonly KnownIssue[];
  readonly attached: readonly AttachedRepo[];
}

export interface ProjectFlags {
  /** A configuration file, or a configuration object (paths relative to the working directory). */
  readonly config?: string | LevelgateConfig;
  /** --repo NAME=DIR, repeatable. */
  readonly repo?: readonly string[];
  /** --variant-audit, with --packages and --sample. */
  readonly variantAudit?: boolean;
  readonly packages?: readonly string[];
  readonly sample?: number;
}

export async function resolveProject(cwd: string, flags: ProjectFlags): Promise<ResolvedProject> {
  const project = await loadProject(cwd, flags.config);
  // Flags override the configuration's repositories of the same name.
  const fromFlags: AttachRequest[] = (flags.repo ?? []).map((value) => {
    const { name, folder } = parseNameDir(value, '--repo');
    return { name, dir: folder, where: `--repo ${value}` };
  });
  const requests = [...project.attach.filter((a) => !fromFlags.some((f) => f.name === a.name)), ...fromFlags];
  const attachedRepos = await readAttachedRepos(requests);

  const audit = auditSettings(project.config.variantAudit, flags);
  const builtin = project.builtinCatalog || audit ? await builtinCatalog() : undefined;
  const own = [...(project.builtinCatalog ? builtin!.scenarios : []), ...project.scenarios];
  const audits = audit ? auditScenarios(audit, attachedRepos, builtin?.scenarios ?? []) : [];
  const scenarios = [...own, ...audits];
  const problems = validateScenarios(scenarios, attachedRepos.map((r) => r.name));
  // Every cell any selection could plan (every level and driver of each scenario, its near misses included), as the run computes it: expectations checked against each.
  const planned = planCells(scenarios, { nearMisses: true });
  const offered = offeredBy(new Map(attachedRepos.map((r) => [r.name, r.metadata.packages])));
  const lines = sourceLines(cwd);
  const stepLine = (scenario: Scenario, step: number) => (scenario.source ? lines.step(scenario.source, scenario.id, step) : undefined);
  throwProblems([...problems, ...planProblems(planned, offered, stepLine), ...knownIssueProblems(project.knownIssues, scenarios.map((s) => s.id))]);
  return {
    project,
    scenarios,
    fixtureScenarios: own,
    knownIssues: [...(builtin && (project.builtinCatalog || audits.length) ? builtin.knownIssues : []), ...project.knownIssues],
    attached: attachedRepos,
  };
}

function auditSettings(config: boolean | VariantAuditConfig | undefined, flags: ProjectFlags): VariantAuditConfig | undefined {
  if (!flags.variantAudit && !config) return undefined;
  const base: VariantAuditConfig = typeof config === 'object' ? config : {};
  return { ...base, ...(flags.packages?.length ? { packages: flags.packages } : {}), ...(flags.sample !== undefined ? { sample: flags.sample } : {}) };
}

/** The drivers a variant audit runs with for each kind of repository. */
const AUDIT_DRIVERS: Readonly<Record<RepoFormat, readonly DriverName[]>> = { 'rpm-md': ['dnf5', 'zypper'], apt: ['apt'], pacman: ['pacman'] };

/** The audit of the attached repositories (those named, or all), or of the fixture repositories when none is attached. */
function auditScenarios(settings: VariantAuditConfig, repos: readonly AttachedRepo[], catalog: readonly Scenario[]): Scenario[] {
  const chosen = settings.repos ? repos.filter((r) => settings.repos!.includes(r.name)) : repos;
  for (const name of settings.repos ?? []) if (!repos.some((r) => r.name === name)) throw new UsageError(`variantAudit.repos: '${name}' is not attached; attached: ${repos.map((r) => r.name).join(', ') || 'none'}`);
  const options = { ...(settings.packages ? { packages: settings.packages } : {}), ...(settings.sample ? { sample: settings.sample } : {}), ...(settings.drivers ? { drivers: settings.drivers } : {}) };
  let result;
  if (chosen.length > 0) {
    const specs: Record<string, RepoSpec> = Object.fromEntries(chosen.map((r) => [r.name, attached(r.name)]));
    // The drivers that read the repositories' kind: dnf5 and zypper for rpm-md, apt, pacman.
    const formats = [...new Set(chosen.map((r) => r.metadata.format))];
    if (formats.length > 1 && !settings.drivers) {
      throw new UsageError(`variant audit: the attached repositories are of different kinds (${chosen.map((r) => `${r.name}: ${r.metadata.format}`).join(', ')}); audit one kind at a time with variantAudit.repos`);
    }
    const drivers = settings.drivers ?? AUDIT_DRIVERS[formats[0]!];
    result = variantAuditScenarios({ repos: specs, packages: chosen.flatMap((r) => r.metadata.packages) }, { ...options, drivers });
  } else {
    const fixtures = fixtureAuditSource(catalog);
    result = variantAuditScenarios({ repos: fixtures.repos, packages: fixtures.builds.map((b) => ({ name: b.name, epoch: 0, version: b.version, release: b.release ?? '1', arch: b.arch })) }, options);
  }
  if (result.unknown.length) throw new UsageError(`--packages: ${result.unknown.join(', ')} ${result.unknown.length > 1 ? 'are' : 'is'} in no audited repository`);
  if (result.scenarios.length === 0) throw new UsageError('the variant audit found no package built in more than one arch in the audited repositories');
  return result.scenarios;
}

/**
 * The distribution image a run boots instead of the default guest: --image NAME (one of
 * the configuration's images) or --image PATH; without the flag, the configuration's
 * image when it lists exactly one; otherwise none (the default guest).
 */
export function resolveImage(flag: string | undefined, project: Project, cwd: string): ImageRequest | undefined {
  const images = project.config.images ?? {};
  const base = project.configFile ? path.dirname(project.configFile) : cwd;
  const names = Object.keys(images);
  if (flag === undefined) {
    if (names.length === 0) return undefined;
    if (names.length > 1) throw new UsageError(`the configuration lists ${names.length} images; pick one with --image NAME (known: ${names.join(', ')})`);
    return { name: names[0]!, path: path.resolve(base, images[names[0]!]!), where: `images.${names[0]}` };
  }
  const named = images[flag];
  if (named) return { name: flag, path: path.resolve(base, named), where: `images.${flag}` };
  if (!flag.includes('/') && !/\.(qcow2|raw|img)$/i.test(flag)) throw new UsageError(`--image: '${flag}' is neither an image of the configuration (known: ${names.join(', ') || 'none'}) nor a path to an image file`);
  return { path: path.resolve(cwd, flag), where: '--image' };
}

/** NAME=DIR (--repo, --data). */
export function parseNameDir(value: string, flag: string): { name: string; folder: string } {
  const eq = value.indexOf('=');
  if (eq <= 0 || eq === value.length - 1) throw new UsageError(`${flag}: '${value}' is not NAME=DIR`);
  return { name: value.slice(0, eq), folder: value.slice(eq + 1) };
}
