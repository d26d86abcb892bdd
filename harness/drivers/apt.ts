// apt (Debian sid's apt 3.3, with Ubuntu's architecture variants): repositories in one
// sources file of their own, loaded by `apt-get update`; variants chosen by
// APT::Architecture-Variants ("auto" in the guest image: the varianttable and
// /proc/cpuinfo). Exit statuses are apt-get(8)'s: 0 success, 100 an error. apt says
// "W: Skipping acquire of configured file ..." (a repository or index it cannot use)
// and "W: Invalid value for APT::Architecture-Variants" (a variant it does not know)
// as warnings with exit 0: the harness takes both as errors, so a repository apt does
// not read never passes as an empty one.
import { archOfDebian, type RpmArch } from '../levels/arch.js';
import type { Refusal } from '../model/package-manager.js';
import { judgeOperation, lastLines, mustSucceed, repoViewOf, setUpBy, type CommandOutput, type CommandPurpose, type Judgement, type PackageDriver, type RepoRef } from './driver.js';
import { formatNevra } from '../packages/available.js';
import { type GuestCommand } from '../model/guest.js';

export const APT_SOURCES_FILE = '/etc/apt/sources.list.d/levelgate.list';
/** Where the guest image sets APT::Architecture-Variants "auto"; an arch override rewrites it, 'default' removes it. */
export const APT_VARIANTS_FILE = '/etc/apt/apt.conf.d/50levelgate-variants';
/** The dpkg packages of the image itself, one "NAME VERSION ARCH VARIANT" line each: the installed set leaves them out. */
export const DPKG_IMAGE_LIST = '/usr/lib/levelgate/dpkg-image.list';

/** Every apt-get command: answer yes, no weak dependencies (as the dnf5 driver). */
const APT_GET = ['apt-get', '-y', '-o', 'APT::Install-Recommends=false'];

/** One `deb` line a repository: trusted (the fixtures are unsigned), its suite and components from its Release file. */
export function aptSourcesFile(repos: readonly RepoRef[]): string {
  return repos.map((repo) => `deb [trusted=yes] file:${repo.path} ${repo.apt?.suite ?? 'sid'} ${(repo.apt?.components ?? ['main']).join(' ')}\n`).join('');
}

/** The variant setting for an arch (x86_64_v3 → "amd64v3"); x86_64 and noarch have no variant to name. */
export function aptVariantsConf(arch: RpmArch): string | undefined {
  const m = /^x86_64_(v[2-4])$/.exec(arch);
  return m ? `APT::Architecture-Variants "amd64${m[1]}";\n` : undefined;
}

/** apt's messages for each refusal (apt-pkg/algorithms.cc, apt-private/private-install.cc, dpkg). */
const REFUSALS: readonly (readonly [RegExp, Refusal])[] = [
  [/is for architecture|wrong architecture|architecture \S+ does not match|package architecture \(\S+\) does not match/, 'incompatible-arch'],
  [/Unable to locate package|has no installation candidate|Couldn't find any package|is not available, but is referred to|is not installed, so not removed/, 'not-found'],
  [/trying to overwrite|Conflicts:|Breaks:/, 'conflict'],
  [/Unmet dependencies|Depends:|held broken packages/, 'dependency'],
];
/** apt's warnings that a configured repository or variant was not used: errors here, whatever the exit status. */
const REPO_PROBLEM = /Skipping acquire of configured file|Invalid value for APT::Architecture-Variants|Failed to fetch|Some index files failed to download|doesn't have a Release file|does not have a Release file/;
/** The harness's or the guest's problem, not a refusal. */
const BROKEN = new RegExp(`${REPO_PROBLEM.source}|Could not get lock|dpkg was interrupted|No space left|Read-only file system`);

const problemIn = (output: CommandOutput): string | undefined => {
  const line = `${output.stdout}\n${output.stderr}`.split('\n').find((l) => REPO_PROBLEM.test(l));
  return line?.trim();
};

/** Queries, configuration and refreshes: exit 0 and no repository warning. */
function mustSucceedCleanly(purpose: CommandPurpose, output: CommandOutput): Judgement {
  const judged = mustSucceed(output, [0], setUpBy(purpose));
  if (judged.kind !== 'ok') return judged;
  const problem = problemIn(output);
  return problem ? { kind: 'error', message: `apt did not use a configured repository or variant: ${problem}` } : judged;
}

/**
 * The installed set from dpkg's status, without the image's own packages (the Debian
 * system the guest runs on): "NAME VERSION ARCH VARIANT" of every installed package
 * (status "ii"), minus the lines of DPKG_IMAGE_LIST. A fixed script: nothing in it
 * comes from input.
 */
export const DPKG_INSTALLED: GuestCommand = {
  argv: [
    'sh',
    '-c',
    `dpkg-query -W -f='\${db:Status-Abbrev}|\${Package} \${Version} \${Architecture} \${Architecture-Variant}\\n' > /tmp/levelgate-dpkg.list && ` +
      `awk -F'|' 'NR==FNR { base[$0]; next } $1 ~ /^ii/ && !($2 in base) { print $2 }' ${DPKG_IMAGE_LIST} /tmp/levelgate-dpkg.list`,
  ],
};

/** A Debian version as levelgate's [EPOCH:]VERSION-RELEASE (the revision is the release). */
function debianNevra(name: string, version: string, arch: string): string {
  const m = /^(?:(\d+):)?(.+)$/.exec(version)!;
  return formatNevra(name, m[1] ?? 0, m[2]!, arch);
}

export function parseDpkgInstalled(stdout: string): string[] {
  return stdout
    .split('\n')
    .flatMap((line) => {
      const m = /^(\S+) (\S+) (\S+) ?(\S*)$/.exec(line.trim());
      return m ? [debianNevra(m[1]!, m[2]!, archOfDebian(m[3]!, m[4]!))] : [];
    })
    .sort();
}

/**
 * apt's own view: `apt-cache policy` of every name it knows says, for each version,
 * which index of which repository offers it ("500 file:/mnt/x sid/main amd64v3
 * Packages"), and `apt-cache show` says which versions are Architecture: all.
 */
const VIEW_SECTION = '=== levelgate-apt-show';
export const APT_REPO_VIEW: GuestCommand = {
  argv: ['sh', '-c', `names=$(apt-cache pkgnames) && apt-cache policy $names && echo '${VIEW_SECTION}' && apt-cache show --all-versions $names 2>/dev/null; true`],
};

export function parseAptRepoView(stdout: string, repos: readonly RepoRef[]): Map<string, string[]> {
  const [policy = '', show = ''] = stdout.split(`${VIEW_SECTION}\n`);
  // Versions that are Architecture: all, from the stanzas of apt-cache show.
  const allArch = new Set<string>();
  for (const stanza of show.split(/\n\s*\n/)) {
    const field = (f: string) => new RegExp(`^${f}: (\\S+)`, 'm').exec(stanza)?.[1];
    if (field('Architecture') === 'all') allArch.add(`${field('Package')} ${field('Version')}`);
  }
  const byUri = new Map(repos.map((r) => [`file:${r.path.replace(/\/+$/, '')}`, r.id]));
  const entries: [string, string][] = [];
  let name: string | undefined;
  let version: string | undefined;
  for (const line of policy.split('\n')) {
    const pkg = /^(\S+):$/.exec(line);
    if (pkg) {
      name = pkg[1]!.replace(/:amd64$/, '');
      version = undefined;
      continue;
    }
    const ver = /^\s+(?:\*\*\* )?(\S+) -?\d+$/.exec(line);
    if (ver) {
      version = ver[1];
      continue;
    }
    const source = /^\s+-?\d+ (\S+?)\/? \S+ (\S+) Packages$/.exec(line);
    if (!source || !name || !version) continue;
    const repo = byUri.get(source[1]!);
    if (!repo) continue;
    entries.push([repo, debianNevra(name, version, allArch.has(`${name} ${version}`) ? 'noarch' : archOfDebian('amd64', source[2]!))]);
  }
  return repoViewOf([...new Set(entries.map((e) => e.join('\0')))].map((e) => e.split('\0') as [string, string]));
}

export const apt: PackageDriver = {
  name: 'apt',
  installedQuery: DPKG_INSTALLED,
  parseInstalled: parseDpkgInstalled,
  solver: true,
  // A variant index supplants the base one (standalone): only Architecture: all builds are in every index apt reads.
  alwaysShows: (arch) => arch === 'noarch',
  configureRepos: (repos) => ({
    // Exactly these repositories: the image's Debian sources (unreachable) and any other list go.
    commands: [
      { argv: ['rm', '-f', '/etc/apt/sources.list'] },
      { argv: ['find', '/etc/apt/sources.list.d', '-mindepth', '1', '!', '-name', 'levelgate.list', '-delete'] },
      { argv: ['tee', APT_SOURCES_FILE], input: aptSourcesFile(repos) },
    ],
    refresh: { argv: ['apt-get', 'update'] },
  }),
  repoView: () => APT_REPO_VIEW,
  parseRepoView: parseAptRepoView,
  operation: (op, packages) => {
    switch (op) {
      case 'install':
        return { argv: [...APT_GET, 'install', ...packages] };
      // `upgrade` of named packages: install --only-upgrade (apt-get upgrade takes no names); of none: the whole system, never removing or adding packages.
      case 'upgrade':
        return { argv: packages.length ? [...APT_GET, 'install', '--only-upgrade', ...packages] : [...APT_GET, 'upgrade'] };
      // dist-upgrade: the full upgrade, which may switch variants (system-wide).
      case 'distro-sync':
        return { argv: [...APT_GET, 'dist-upgrade'] };
      case 'remove':
        return { argv: [...APT_GET, 'remove', ...packages] };
      // apt downgrades only to a version named (NAME=VERSION); it has no install-new-recommends.
      case 'downgrade':
      case 'install-new-recommends':
        return undefined;
    }
  },
  // A path with a slash is a file to apt-get install.
  installFile: (file) => ({ argv: [...APT_GET, 'install', file] }),
  releaseUpgrade: () => undefined,
  listUpdates: () => ({ argv: ['apt', '-o', 'Apt::Cmd::Disable-Script-Warning=true', 'list', '--upgradable'] }),
  // "lgstale/sid 1.1-1 amd64 [upgradable from: 1.0-1]"
  parseUpdates: (stdout) => [...new Set(stdout.split('\n').flatMap((l) => /^([^/\s]+)\/\S+ .*\[upgradable from/.exec(l.trim())?.slice(1, 2) ?? []))].sort(),
  // APT::Architecture-Variants "auto": the varianttable's flags against /proc/cpuinfo.
  detector: 'apt-variants',
  // An explicit variant (no CPU check at all), or 'default': the setting removed (amd64 only).
  overrideArch: (arch) => {
    if (arch === 'default') return [{ argv: ['rm', '-f', APT_VARIANTS_FILE] }];
    const conf = aptVariantsConf(arch);
    return conf ? [{ argv: ['tee', APT_VARIANTS_FILE], input: conf }] : undefined;
  },
  // apt pins versions and origins, not variants: no pin a user could write.
  pin: () => undefined,
  judge: (purpose, output) => {
    if (purpose !== 'operation') return mustSucceedCleanly(purpose, output);
    const problem = problemIn(output);
    if (problem) return { kind: 'error', message: `apt did not use a configured repository or variant: ${problem}` };
    const judged = judgeOperation('apt-get', output, { refusedStatuses: [100], refusals: REFUSALS, broken: BROKEN });
    // apt-get prints "E: ..." lines last; keep them rather than the progress before.
    return judged.kind === 'refused' ? { ...judged, message: lastLines(output.stderr.split('\n').filter((l) => l.startsWith('E:')).join('\n') || judged.message) } : judged;
  },
};
