// Where each repository a scenario names lives (on the host, and in the guest), what
// it offers (read from its own metadata, once per run), and which programs its
// packages ship: what the interpreter resolves names against.
import path from 'node:path';
import { nevraString, type AvailablePackage } from '../packages/available.js';
import { LIBRARY_FILE, readRepoMetadata, type RepoMetadata } from './repodata.js';
import type { ProgramSpec, ResolvedRepo } from '../model/programs.js';
import { fixtureRepoPath, kindOf, releasesOf, type PackageBuild, type RepoSpec, type Scenario } from '../scenario/types.js';
import { type RepoFormat } from '../model/package-manager.js';
import { UsageError } from '../util/errors.js';

/** A repository the user attaches by name (`--repo NAME=DIR`, `repos:` in the configuration). */
export interface AttachedRepo {
  readonly name: string;
  /** The host directory (a createrepo_c tree). */
  readonly dir: string;
  readonly metadata: RepoMetadata;
}

/** Where fixture and attached repositories appear inside guests (read-only data disks). */
export const GUEST_FIXTURES = '/mnt/fixtures';
export const GUEST_ATTACHED = '/mnt/repos';
export const guestFixturePath = (scenario: string, repo: string, format: RepoFormat = 'rpm-md'): string => `${GUEST_FIXTURES}/${fixtureRepoPath(scenario, repo, format)}`;
export const guestAttachedPath = (name: string): string => `${GUEST_ATTACHED}/${name}`;
/** Where a scenario's repository NAME (its spec `spec`) appears in the guest, in `format`. */
export const guestRepoPath = (scenario: Scenario, name: string, spec: RepoSpec | undefined, format: RepoFormat = 'rpm-md'): string =>
  spec?.kind === 'attached' ? guestAttachedPath(spec.name) : spec?.path ? `${GUEST_FIXTURES}/${spec.path}` : guestFixturePath(scenario.id, name, format);
/** The repository id a package manager sees: a bare "main" would be dnf's [main] section. */
export const repoId = (scenario: string, repo: string): string => `${scenario}-${repo.replaceAll('$releasever', 'releasever')}`;

const BIN_DIRS = /^\/(?:usr\/)?s?bin\/[^/]+$/;

/** One library check per file name a package ships (the loader selects among its copies). */
function librarySpecs(packageName: string, files: readonly string[]): ProgramSpec[] {
  const bySoname = new Map<string, ProgramSpec>();
  for (const file of files) {
    // The library directory, and the file name the loader looks up.
    const m = LIBRARY_FILE.exec(file);
    if (m && !bySoname.has(m[3]!)) bySoname.set(m[3]!, { path: file, args: [], packageName, library: { soname: m[3]!, dir: m[1]! } });
  }
  return [...bySoname.values()];
}

export class RepoCatalog {
  readonly #fixtureRoot: string | undefined;
  readonly #attached: ReadonlyMap<string, AttachedRepo>;
  readonly #metadata = new Map<string, Promise<RepoMetadata>>();

  /** `fixtureRoot`: the host directory holding SCENARIO/REPO fixture repositories. */
  constructor(fixtureRoot: string | undefined, attached: readonly AttachedRepo[] = []) {
    this.#fixtureRoot = fixtureRoot;
    this.#attached = new Map(attached.map((r) => [r.name, r]));
    for (const r of attached) this.#metadata.set(r.dir, Promise.resolve(r.metadata));
  }

  get attached(): readonly AttachedRepo[] {
    return [...this.#attached.values()];
  }

  /** The metadata of a repository directory, read once. */
  metadataOf(dir: string): Promise<RepoMetadata> {
    let m = this.#metadata.get(dir);
    if (!m) {
      m = readRepoMetadata(dir);
      this.#metadata.set(dir, m);
    }
    return m;
  }

  /** Host directory of a scenario's repository NAME (concrete: no $releasever), in the format a driver reads (fixtures are published in each). */
  hostDir(scenario: Scenario, name: string, format: RepoFormat = 'rpm-md'): string | undefined {
    const spec = scenario.repos[name];
    if (!spec) return undefined;
    if (spec.kind === 'attached') return this.#attached.get(spec.name)?.dir;
    return this.#fixtureRoot ? path.join(this.#fixtureRoot, spec.path ?? fixtureRepoPath(scenario.id, name, format)) : undefined;
  }

  /**
   * Every repository name the scenario's steps use, resolved: for a name with
   * $releasever, each release's concrete repository is read. Missing content is an
   * error the loader reports before any guest boots.
   */
  async resolve(scenario: Scenario, format: RepoFormat = 'rpm-md'): Promise<Map<string, ResolvedRepo>> {
    const resolved = new Map<string, ResolvedRepo>();
    for (const [name, concrete] of concreteRepos(scenario)) {
      const byRelease = new Map<string | undefined, readonly AvailablePackage[]>();
      let metadata: RepoMetadata | undefined;
      for (const [release, concreteName] of concrete) {
        const dir = this.hostDir(scenario, concreteName, format);
        if (!dir) continue;
        metadata = await this.metadataOf(dir);
        if (metadata.format !== format) {
          throw new UsageError(`scenario ${scenario.id}: repository ${concreteName} (${dir}) is ${metadata.format === 'rpm-md' ? 'an rpm-md' : `a ${metadata.format}`} repository; a driver reading ${format} cannot use it`);
        }
        byRelease.set(release, metadata.packages);
      }
      const spec = scenario.repos[name] ?? scenario.repos[concrete[0]![1]];
      const guestPath = guestRepoPath(scenario, name, spec, format);
      resolved.set(name, {
        // An attached repository has one id in every scenario, so its package-manager caches carry over;
        // a pacman repository is named by its database (pacman.conf's section must match it).
        id: metadata?.pacman?.db ?? (spec?.kind === 'attached' ? spec.name : repoId(scenario.id, name)),
        guestPath,
        packages: (release) => byRelease.get(name.includes('$releasever') ? release : undefined) ?? [],
        ...(metadata?.apt ? { apt: metadata.apt } : {}),
      });
    }
    return resolved;
  }

  /** Every package file the scenario's repositories hold on the host, by NEVRA (as rpm -qa names it): what gate --audit audits. */
  async packageFiles(scenario: Scenario, format: RepoFormat = 'rpm-md'): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    for (const [, concrete] of concreteRepos(scenario)) {
      for (const [, concreteName] of concrete) {
        const dir = this.hostDir(scenario, concreteName, format);
        if (!dir) continue;
        for (const p of (await this.metadataOf(dir)).packages) files.set(nevraString(p), path.join(dir, p.location));
      }
    }
    return files;
  }

  /** Programs of the scenario's packages (fixture programs print their identity; others run with --version). */
  async programsOf(scenario: Scenario): Promise<{ programs: (name: string) => ProgramSpec[]; inPlay: Set<string> }> {
    const byName = new Map<string, ProgramSpec[]>();
    const inPlay = new Set<string>();
    const addProgram = (name: string, spec: ProgramSpec) => {
      const list = byName.get(name) ?? [];
      if (!list.some((s) => s.path === spec.path)) list.push(spec);
      byName.set(name, list);
    };
    for (const [repoName, spec] of Object.entries(scenario.repos)) {
      if (spec.kind === 'fixture') {
        for (const build of spec.builds) {
          inPlay.add(build.name);
          const program = fixtureProgram(build);
          if (program) addProgram(build.name, program);
          // A package of glibc-hwcaps copies only (openSUSE's libfoo1-x86-64-v3): the loader's choice among them is what runs.
          if (kindOf(build) === 'hwcaps-overlay') {
            const soname = `lib${build.library ?? build.name}.so.1`;
            for (const spec of librarySpecs(build.name, (build.hwcaps ?? []).map((h) => `/usr/lib64/glibc-hwcaps/${h}/${soname}`))) addProgram(build.name, spec);
          }
        }
      } else {
        const dir = this.hostDir(scenario, repoName);
        if (!dir) continue;
        for (const p of (await this.metadataOf(dir)).packages) {
          inPlay.add(p.name);
          for (const file of p.files.filter((f) => BIN_DIRS.test(f))) addProgram(p.name, { path: file, args: ['--version'], packageName: p.name });
          for (const spec of librarySpecs(p.name, p.files)) addProgram(p.name, spec);
        }
      }
    }
    return { programs: (name) => byName.get(name) ?? [], inPlay };
  }
}

/** The fixture's program, and what it prints for the installed package. */
function fixtureProgram(build: PackageBuild): ProgramSpec | undefined {
  switch (kindOf(build)) {
    case 'program':
    case 'script':
      return { path: `/usr/bin/${build.name}`, args: [], packageName: build.name, identity: (p) => `${p.name} ${p.version}-${p.release} ${p.arch}` };
    case 'hwcaps':
      return { path: `/usr/bin/${build.name}`, args: [], packageName: build.name };
    case 'hwcaps-overlay':
    case 'none':
      return undefined;
  }
}

/**
 * Every repository name the scenario's steps use, each with its concrete names: for a
 * name with $releasever, one per release (with the release), else the name itself.
 */
function concreteRepos(scenario: Scenario): Map<string, (readonly [string | undefined, string])[]> {
  const names = new Set<string>(Object.keys(scenario.repos));
  for (const step of scenario.steps) {
    if (step.action.kind === 'repos') for (const n of step.action.use) names.add(n);
    if (step.action.kind === 'install-file') names.add(step.action.repo);
  }
  const releases = releasesOf(scenario);
  return new Map([...names].map((name) => [name, name.includes('$releasever') ? releases.map((r) => [r, name.replaceAll('$releasever', r)] as const) : [[undefined, name] as const]]));
}

