// The variant audit a QA team runs on a compose: for every package name built in more
// than one arch in the given repositories (or a list, or a deterministic sample), a
// scenario that installs it and checks that the best variant the CPU runs was chosen
// and that every program it ships runs (`--version` for programs that cannot run
// blind; fixture programs report their own package). One scenario per package, so a
// report has a testcase per package, level and driver.
import { namesWithVariants, type AvailablePackage } from '../packages/available.js';
import { attached, best, defineScenario, enable, install } from './api.js';
import { SHARED_FIXTURE_REPO, type PackageBuild, type RepoSpec, type Scenario } from './types.js';
import { formatsOf, type DriverName } from '../model/package-manager.js';

export const VARIANT_AUDIT_PREFIX = 'variant-audit.';

export interface VariantAuditSource {
  /** Repositories by the name the scenarios use: attached ones, or fixture builds. */
  readonly repos: Readonly<Record<string, RepoSpec>>;
  /** What they offer, together. */
  readonly packages: readonly AvailablePackage[];
}

export interface VariantAuditOptions {
  readonly packages?: readonly string[];
  readonly sample?: number;
  readonly drivers?: readonly DriverName[];
}

/** Every N-th name, so a sample of a compose is the same in every run. */
export function sampleNames(names: readonly string[], sample: number | undefined): string[] {
  if (!sample || sample >= names.length) return [...names];
  const step = names.length / sample;
  return Array.from({ length: sample }, (_, i) => names[Math.floor(i * step)]!);
}

/** The scenarios of a variant audit; a name that is in no repository is a usage error the caller reports. */
export function variantAuditScenarios(source: VariantAuditSource, options: VariantAuditOptions = {}): { scenarios: Scenario[]; unknown: string[] } {
  const available = new Set(source.packages.map((p) => p.name));
  const unknown = (options.packages ?? []).filter((n) => !available.has(n));
  const names = sampleNames(options.packages?.filter((n) => available.has(n)) ?? namesWithVariants(source.packages), options.sample);
  const repoNames = Object.keys(source.repos);
  const scenarios = names.map((name) =>
    defineScenario({
      id: `${VARIANT_AUDIT_PREFIX}${name.toLowerCase().replace(/[^a-z0-9._-]/g, '_')}`,
      title: `Variant audit of ${name}: the best variant installs and every program it ships runs`,
      tags: ['variant-audit'],
      drivers: options.drivers ?? ['dnf5', 'zypper'],
      repos: source.repos,
      steps: [enable(...repoNames), install(name).expect({ installed: { [name]: best }, runsPackage: [name] })],
    }),
  );
  return { scenarios, unknown };
}

/** The fixture repositories of the catalog as one audit source: one repository per scenario repository. */
export function fixtureAuditSource(catalog: readonly Scenario[]): { repos: Record<string, RepoSpec>; builds: PackageBuild[] } {
  const repos: Record<string, RepoSpec> = {};
  const builds: PackageBuild[] = [];
  // The RPM fixtures only: the audit's repository is an rpm-md one (apt and pacman scenarios have their own).
  for (const scenario of catalog.filter((s) => formatsOf(s.drivers).includes('rpm-md'))) {
    for (const spec of Object.values(scenario.repos)) {
      if (spec.kind !== 'fixture') continue;
      builds.push(...spec.builds);
    }
  }
  // One repository with every fixture build, deduplicated by NEVRA.
  const seen = new Set<string>();
  const unique = builds.filter((b) => {
    const key = `${b.name}-${b.version}-${b.release ?? '1'}.${b.arch}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  repos.all = { kind: 'fixture', builds: unique, path: SHARED_FIXTURE_REPO };
  return { repos, builds: unique };
}

export { attached };
