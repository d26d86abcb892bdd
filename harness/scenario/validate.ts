// Checks scenarios before anything boots: unique ids, repositories the steps name are
// declared (with every $releasever value), local files exist in their repository,
// fixture builds are sane, every step is one each driver can do, and every name an
// expectation checks is a package of the scenario's repositories. Every problem names
// the scenario, its file and the field, and says what to change. Pure.
import type { PackageDriver } from '../drivers/driver.js';
import { DRIVERS } from '../drivers/index.js';
import { isRpmArch } from '../levels/arch.js';
import { isLevelName, levelIndex } from '../levels/table.js';
import { ALL_NEAR_MISSES, ALL_TARGETS } from '../levels/targets.js';
import { releasesOf } from './types.js';
import { kindOf, nevraOf, RPM_INSTALL_FLAGS, type Expectation, type PackageBuild, type Scenario, type StepAction } from './types.js';
import { DRIVER_NAMES, type DriverName } from '../model/package-manager.js';

const HWCAPS_DIRS = ['x86-64-v2', 'x86-64-v3', 'x86-64-v4'];
const DEPENDENCY_FIELDS = ['requires', 'provides', 'recommends', 'supplements'] as const;

/** Problems with one fixture build, each naming its field. */
function buildProblems(build: PackageBuild, at: string): string[] {
  const problems: string[] = [];
  if (!isRpmArch(build.arch)) problems.push(`${at}: arch '${build.arch}' is not one of noarch, x86_64, x86_64_v2, x86_64_v3, x86_64_v4`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(build.name)) problems.push(`${at}: name '${build.name}' is not a package name`);
  for (const field of DEPENDENCY_FIELDS) {
    for (const [j, value] of (build[field] ?? []).entries()) {
      if (!value.trim() || /[\r\n]/.test(value)) problems.push(`${at}: ${field}[${j}] must be one dependency on one line, not ${JSON.stringify(value)}`);
    }
  }
  for (const dir of build.hwcaps ?? []) if (!HWCAPS_DIRS.includes(dir)) problems.push(`${at}: hwcaps: '${dir}' is not a glibc-hwcaps directory; known: ${HWCAPS_DIRS.join(', ')}`);
  if (build.payload !== undefined && !['zstd', 'gzip'].includes(build.payload)) problems.push(`${at}: payload '${String(build.payload)}' is not one of zstd, gzip`);
  const kind = kindOf(build);
  if (kind === 'hwcaps-overlay' && !build.hwcaps?.length) problems.push(`${at}: kind 'hwcaps-overlay' carries only glibc-hwcaps copies: name at least one in hwcaps`);
  if (kind === 'hwcaps-overlay' && build.arch === 'noarch') problems.push(`${at}: kind 'hwcaps-overlay' holds compiled libraries: arch cannot be noarch`);
  if (build.libdir !== undefined && !['lib64', 'multiarch'].includes(build.libdir)) problems.push(`${at}: libdir '${String(build.libdir)}' is not one of lib64, multiarch`);
  if (build.libdir !== undefined && kind !== 'hwcaps' && kind !== 'hwcaps-overlay') problems.push(`${at}: libdir is only read for kinds 'hwcaps' and 'hwcaps-overlay' (this one is '${kind}')`);
  if (build.library !== undefined && kind !== 'hwcaps-overlay') problems.push(`${at}: library is only read for kind 'hwcaps-overlay' (this one is '${kind}')`);
  return problems;
}

const ID = /^[a-z0-9][a-z0-9._-]*$/;

/** Why a driver cannot do a step (plain rpm cannot pin, list updates or upgrade a release), by the driver's own table; undefined when it can. */
function cannotDo(driver: PackageDriver, action: StepAction): string | undefined {
  switch (action.kind) {
    case 'pin':
      return driver.pin(action.pin) === undefined ? 'pin: %s has no way to pin a package' : undefined;
    case 'list-updates':
      return driver.listUpdates() === undefined ? 'listUpdates: %s cannot list updates' : undefined;
    case 'release-upgrade':
      return driver.releaseUpgrade(action.releasever) === undefined ? 'releaseUpgrade: %s has no release upgrade' : undefined;
    default:
      return undefined;
  }
}

/** The names an expectation checks, by field: packages, or programs (a fixture program is named after its package). */
function subjectsOf(e: Expectation): [string, string][] {
  const keys = (field: string, names: Iterable<string> | undefined): [string, string][] => [...(names ?? [])].map((n) => [field, n]);
  return [
    ...keys('installed', Object.keys(e.installed ?? {})),
    ...keys('runs', e.runs),
    ...keys('runsPackage', e.runsPackage),
    ...keys('dies', e.dies),
    ...keys('loads', Object.keys(e.loads ?? {})),
    ...keys('current', e.current),
    ...keys('updatesListed', e.updatesListed),
  ];
}

/**
 * Every name the expectations of `scenario` check that none of its repositories builds
 * (a typo makes `installed: {typo: null}` pass vacuously). Function expectations are
 * asked for every CPU and driver the scenario can run on. Scenarios with attached
 * repositories are checked when their metadata is read, not here.
 */
function unknownSubjects(scenario: Scenario, where: string): string[] {
  const specs = Object.values(scenario.repos);
  if (specs.some((r) => r.kind !== 'fixture')) return [];
  const names = new Set(specs.flatMap((r) => (r.kind === 'fixture' ? r.builds.map((b) => b.name) : [])));
  const problems = new Set<string>();
  const targets = ALL_TARGETS.filter((t) => !scenario.levels || scenario.levels.includes(t.level));
  for (const [i, step] of scenario.steps.entries()) {
    const source = step.expectation;
    if (!source) continue;
    const expectations: Expectation[] =
      typeof source === 'function'
        ? targets.flatMap((target) => scenario.drivers.map((driver: DriverName) => source({ level: target.level, target, driver, atLeast: (l) => levelIndex(target.level) >= levelIndex(l) })))
        : [source];
    for (const e of expectations) {
      for (const [field, name] of subjectsOf(e)) {
        if (!names.has(name)) problems.add(`${where}: steps[${i}]: expect ${field}: '${name}' is no package of the scenario's repositories; they build ${[...names].sort().join(', ') || 'nothing'}`);
      }
    }
  }
  return [...problems];
}

export function validateScenarios(scenarios: readonly Scenario[], attachedRepos: readonly string[] = []): string[] {
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const scenario of scenarios) {
    const where = `scenario '${scenario.id}'${scenario.source ? ` (${scenario.source})` : ''}`;
    const other = seen.get(scenario.id);
    if (other !== undefined) problems.push(`${where}: id '${scenario.id}' is used twice (also ${other || 'in the built-in catalog'}); ids must be unique`);
    seen.set(scenario.id, scenario.source ?? '');
    if (!ID.test(scenario.id)) problems.push(`${where}: id must be lowercase letters, digits, '.', '_' or '-' (it names cells and repositories)`);
    if (scenario.drivers.length === 0) problems.push(`${where}: drivers is empty; name at least one of ${DRIVER_NAMES.join(', ')}`);
    for (const driver of scenario.drivers) if (!(DRIVER_NAMES as readonly string[]).includes(driver)) problems.push(`${where}: drivers: '${driver}' is not a driver; known: ${DRIVER_NAMES.join(', ')}`);
    for (const level of scenario.levels ?? []) if (!isLevelName(level)) problems.push(`${where}: levels: '${level}' is not a level; known: v1, v2, v3, v4`);
    if (Array.isArray(scenario.nearMisses)) {
      for (const name of scenario.nearMisses) if (!ALL_NEAR_MISSES.some((t) => t.name === name)) problems.push(`${where}: nearMisses: '${name}' is not a near miss; known: ${ALL_NEAR_MISSES.map((t) => t.name).join(', ')}`);
    }

    const declared = new Set(Object.keys(scenario.repos));
    for (const [name, spec] of Object.entries(scenario.repos)) {
      if (spec.kind === 'attached' && !attachedRepos.includes(spec.name)) {
        problems.push(`${where}: repos.${name} uses the attached repository '${spec.name}', which is not attached; attach it with --repo ${spec.name}=DIR or repos: in the configuration${attachedRepos.length ? ` (attached: ${attachedRepos.join(', ')})` : ''}`);
      }
      if (spec.kind !== 'fixture') continue;
      for (const [i, build] of spec.builds.entries()) problems.push(...buildProblems(build, `${where}: repos.${name}[${i}] (${build.name})`));
    }
    const releases = releasesOf(scenario);
    const resolve = (name: string): string[] => (name.includes('$releasever') ? releases.map((r) => name.replaceAll('$releasever', r)) : [name]);
    for (const [i, step] of scenario.steps.entries()) {
      const at = `${where}: steps[${i}]`;
      const action = step.action;
      const names = action.kind === 'repos' ? action.use : action.kind === 'install-file' ? [action.repo] : [];
      for (const name of names) {
        if (name.includes('$releasever') && releases.length === 0) {
          problems.push(`${at}: repository '${name}' uses $releasever, but the scenario sets no releasever`);
          continue;
        }
        for (const concrete of resolve(name)) {
          if (!declared.has(concrete)) problems.push(`${at}: names repository '${concrete}', which the scenario does not declare; declared: ${[...declared].join(', ') || 'none'}`);
        }
      }
      if (action.kind === 'operation') {
        const lacking = scenario.drivers.filter((d) => DRIVERS[d] && DRIVERS[d].operation(action.op, action.packages) === undefined);
        if (lacking.length) problems.push(`${at}: ${action.op}: ${lacking.join(', ')} ${lacking.length > 1 ? 'have' : 'has'} no such operation; drop ${lacking.length > 1 ? 'them' : 'it'} from drivers`);
      }
      for (const d of scenario.drivers) {
        const why = DRIVERS[d] ? cannotDo(DRIVERS[d], action) : undefined;
        if (why) problems.push(`${at}: ${why.replace('%s', d)}; drop ${d} from drivers`);
      }
      if (action.kind === 'install-file') {
        const spec = scenario.repos[action.repo];
        if (spec?.kind === 'fixture' && !spec.builds.some((b) => `${nevraOf(b)}.rpm` === action.file)) {
          problems.push(`${at}: installs ${action.file}, which repository '${action.repo}' does not build; it builds ${spec.builds.map((b) => `${nevraOf(b)}.rpm`).join(', ')}`);
        }
      }
      for (const flag of action.kind === 'install-file' ? (action.rpmFlags ?? []) : []) {
        if (!(RPM_INSTALL_FLAGS as readonly string[]).includes(flag)) problems.push(`${at}: installFile: rpm flag '${flag}' is not one levelgate passes; known: ${RPM_INSTALL_FLAGS.join(', ')}`);
      }
      if (action.kind === 'set-env') {
        for (const name of Object.keys(action.vars)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) problems.push(`${at}: setEnv: '${name}' is not an environment variable name`);
      }
      if (action.kind === 'override-arch' && action.arch !== 'default' && !isRpmArch(action.arch)) problems.push(`${at}: overrideArch: '${action.arch}' is not one of noarch, x86_64, x86_64_v2, x86_64_v3, x86_64_v4, default`);
      if (action.kind === 'override-arch') {
        const lacking = scenario.drivers.filter((d) => d !== 'dnf5' && DRIVERS[d] && DRIVERS[d].overrideArch(action.arch) === undefined);
        if (lacking.length) problems.push(`${at}: overrideArch('${action.arch}'): ${lacking.join(', ')} cannot set it; drop ${lacking.length > 1 ? 'them' : 'it'} from drivers`);
      }
      if (action.kind === 'override-arch' && scenario.drivers.includes('dnf5')) problems.push(`${at}: overrideArch: dnf5 has no arch override (dnf5#1468); run this scenario with zypper or rpm`);
      if (action.kind === 'move-to' && action.level !== 'one-below' && !isLevelName(action.level)) problems.push(`${at}: moveTo: '${action.level}' is not a level`);
      if (action.kind === 'move-to' && action.level === 'one-below' && (scenario.levels ?? ['v1']).includes('v1')) {
        problems.push(`${at}: moveTo('one-below') cannot run at v1; set levels to v2 and up`);
      }
    }
    problems.push(...unknownSubjects(scenario, where));
  }
  return problems;
}
