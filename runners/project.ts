// What gate and repro run: the project's configuration (or the built-in catalog), the
// repositories attached by flags and configuration, the generated variant audit, and
// the known issues; checked as a whole before anything boots.
import { loadProject, type Project } from '../harness/config/load.js';
import type { VariantAuditConfig } from '../harness/config/config.js';
import type { KnownIssue } from '../harness/plan/known-issues.js';
import { readAttachedRepos, type AttachRequest } from '../harness/repos/attach.js';
import type { AttachedRepo } from '../harness/repos/catalog.js';
import { attached } from '../harness/scenario/api.js';
import type { DriverName, RepoFormat, RepoSpec, Scenario } from '../harness/scenario/types.js';
import { validateScenarios } from '../harness/scenario/validate.js';
import { fixtureAuditSource, variantAuditScenarios } from '../harness/scenario/variant-audit.js';
import type { ImageRequest } from '../harness/run/prepare-image.js';
import { UsageError } from '../harness/util/errors.js';
import path from 'node:path';
import { CATALOG } from '../scenarios/index.js';
import { KNOWN_ISSUES } from '../scenarios/known-issues.js';
import { resolveDataDisk } from './resolve.js';

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
  readonly config?: string;
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
    const { name, folder } = resolveDataDisk(value, '--repo');
    return { name, dir: folder, where: `--repo ${value}` };
  });
  const requests = [...project.attach.filter((a) => !fromFlags.some((f) => f.name === a.name)), ...fromFlags];
  const attachedRepos = await readAttachedRepos(requests);

  const own = [...(project.builtinCatalog ? CATALOG : []), ...project.scenarios];
  const audit = auditSettings(project.config.variantAudit, flags);
  const audits = audit ? auditScenarios(audit, attachedRepos) : [];
  const scenarios = [...own, ...audits];
  const problems = validateScenarios(scenarios, attachedRepos.map((r) => r.name));
  if (problems.length) throw new UsageError(problems[0]!, problems.length > 1 ? { details: problems.join('\n') } : {});
  return {
    project,
    scenarios,
    fixtureScenarios: own,
    knownIssues: [...(project.builtinCatalog || audits.length ? KNOWN_ISSUES : []), ...project.knownIssues],
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
function auditScenarios(settings: VariantAuditConfig, repos: readonly AttachedRepo[]): Scenario[] {
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
    const fixtures = fixtureAuditSource(CATALOG);
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
