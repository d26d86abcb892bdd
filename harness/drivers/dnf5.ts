// dnf5: repositories in one .repo file of their own, in a directory of levelgate's that
// every command points dnf5 to (reposdir), with a cache directory of its own, both
// created: nothing is assumed of the image's layout (an image without /etc/yum.repos.d,
// or with a distribution's own definitions, reads the same); every operation by name; the exit
// statuses of dnf5(8) (0 success, 1 error, 2 bad arguments; check-upgrade 100 when
// updates exist). Its configuration is the distribution's own: Debian's, like Fedora's,
// sets skip_if_unavailable=True, so a repository that fails to load is skipped with
// exit 0 — the harness reads the tool's view of its repositories to catch that.
import { DEBIAN_GUEST, lastLines, mustSucceed, outsideContract, refusalIn, repoViewOf, RPM_DATABASE, setUpBy, type CommandOutput, type DriverContext, type Judgement, type PackageDriver, type RepoRef } from './driver.js';
import { formatNevra } from '../packages/available.js';
import type { PinSpec, Refusal } from '../model/package-manager.js';
import { VARIANT_ARCHES } from '../levels/arch.js';

/** The only repository directory dnf5 reads in a cell (--setopt=reposdir): levelgate's, created by configureRepos. */
export const DNF5_REPOS_DIR = '/etc/levelgate/dnf5/repos.d';
export const DNF5_REPO_FILE = `${DNF5_REPOS_DIR}/levelgate.repo`;
/** dnf5's metadata and package cache (root uses system_cachedir, others cachedir): levelgate's, created with the repositories. */
export const DNF5_CACHE_DIR = '/var/cache/levelgate/dnf5';
/** Where every dnf5 command of levelgate reads repositories and keeps its cache. */
export const DNF5_LAYOUT: readonly string[] = [`--setopt=reposdir=${DNF5_REPOS_DIR}`, `--setopt=cachedir=${DNF5_CACHE_DIR}`, `--setopt=system_cachedir=${DNF5_CACHE_DIR}`];
/** Pins live in a drop-in of their own, next to the distribution's dnf.conf. */
export const DNF5_PIN_FILE = '/etc/dnf/libdnf5.conf.d/50-levelgate-pins.conf';

export function dnf5RepoFile(repos: readonly RepoRef[]): string {
  return repos.map((repo) => `[${repo.id}]\nname=${repo.id}\nbaseurl=file://${repo.path}\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\n`).join('\n');
}

/** dnf5's messages for each refusal (libdnf5/base/solver_problems.cpp and the CLI). */
const REFUSALS: readonly (readonly [RegExp, Refusal])[] = [
  [/does not have a compatible architecture/, 'incompatible-arch'],
  [/No match for argument|No packages to (?:install|remove|upgrade|downgrade)|Packages for argument .* available, but not installed/, 'not-found'],
  // An excluded package (excludepkgs: a pin) asked for by name: "Argument 'X' matches only excluded packages."
  [/conflicts with|is filtered out by exclude filtering|matches only excluded packages|cannot install both/, 'conflict'],
  [/nothing provides|requires .*, but none of the providers can be installed/, 'dependency'],
];
/** Messages that mean the harness or the guest is broken, not that dnf5 refused. */
const BROKEN = /Failed to download metadata|Failed to access RPM|Cannot open|Permission denied|No space left/;

/** dnf5 in a guest whose $releasever, when a scenario sets none, is `context.releasever` (the default guest: Debian sid, which has no VERSION_ID). */
export function dnf5Driver(context: DriverContext = DEBIAN_GUEST): PackageDriver {
  const DEFAULT_RELEASEVER = context.releasever;
  const base = (releasever = DEFAULT_RELEASEVER) => ['dnf5', '-y', `--releasever=${releasever}`, ...DNF5_LAYOUT, '--setopt=install_weak_deps=False'];
  return {
  name: 'dnf5',
  ...RPM_DATABASE,
  solver: true,
  configureRepos: (repos) => ({
    // Exactly the enabled repositories, in the one file of the one directory dnf5 reads:
    // a distribution's own definitions (which would need a network) stay where they are, unread.
    commands: [
      { argv: ['mkdir', '-p', DNF5_REPOS_DIR, DNF5_CACHE_DIR] },
      { argv: ['tee', DNF5_REPO_FILE], input: dnf5RepoFile(repos) },
    ],
  }),
  // Every package of every enabled repository, with its repository; excludes (pins) do not hide packages from the view.
  repoView: (releasever = DEFAULT_RELEASEVER) => ({
    argv: ['dnf5', `--releasever=${releasever}`, ...DNF5_LAYOUT, '--setopt=disable_excludes=*', 'repoquery', '--available', '--queryformat', '%{repoid} %{name} %{epoch} %{version}-%{release} %{arch}\\n'],
  }),
  parseRepoView: (stdout) =>
    repoViewOf(
      stdout.split('\n').flatMap((line) => {
        const m = /^(\S+) (\S+) (\d+) (\S+) (\S+)$/.exec(line.trim());
        return m ? [[m[1]!, formatNevra(m[2]!, m[3]!, m[4]!, m[5]!)] as const] : [];
      }),
    ),
  // install-new-recommends: dnf5 has no command that installs what newly recommends or
  // supplements the installed system (`install`/`upgrade` weigh only the weak
  // dependencies of what they change), so a scenario with that step cannot run here.
  operation: (op, packages, releasever) => (op === 'install-new-recommends' ? undefined : { argv: [...base(releasever), op, ...packages] }),
  installFile: (file) => ({ argv: [...base(), 'install', file] }),
  releaseUpgrade: (releasever) => ({ argv: [...base(releasever), 'distro-sync'] }),
  listUpdates: (releasever) => ({ argv: [...base(releasever), 'check-upgrade'] }),
  // Lines of "NAME.ARCH  VERSION-RELEASE  REPO" after the metadata banner.
  parseUpdates: (stdout) =>
    [...new Set(stdout.split('\n').flatMap((l) => /^(\S+)\.(noarch|x86_64(?:_v\d)?)\s+\S+\s+\S+\s*$/.exec(l.trim())?.slice(1, 2) ?? []))].sort(),
  // $arch, from uname (dnf5 5.4 has no level detection).
  detector: 'dnf5-arch',
  // dnf5 has no arch override (--forcearch rejects x86_64_v3: dnf5#1468).
  overrideArch: () => undefined,
  // dnf5's documented way: excludepkgs (name.arch globs) for every other arch of the package.
  pin: (pin: PinSpec) => [
    { argv: ['mkdir', '-p', DNF5_PIN_FILE.replace(/\/[^/]+$/, '')] },
    {
      argv: ['tee', DNF5_PIN_FILE],
      input: `[main]\nexcludepkgs=${VARIANT_ARCHES.filter((a) => a !== pin.arch).map((a) => `${pin.name}.${a}`).join(',')}\n`,
    },
  ],
  // --debugsolver: libsolv's testcase of the goal (dnf5(8)); the transaction still runs.
  solverCase: (command, dir) => ({ command: { ...command, argv: [...command.argv, '--debugsolver', `--setopt=debugdir=${dir}`] }, testcaseDir: `${dir}/packages` }),
  judge: (purpose, output: CommandOutput): Judgement => {
    switch (purpose) {
      case 'list-updates':
        return mustSucceed(output, [0, 100]);
      case 'query':
      case 'repo-view':
      case 'configure':
      case 'refresh':
        return mustSucceed(output, [0], setUpBy(purpose));
      case 'operation': {
        if (output.exitCode === 0) return { kind: 'ok' };
        const text = `${output.stdout}\n${output.stderr}`;
        if (output.exitCode === 1 && !BROKEN.test(text)) return { kind: 'refused', reason: refusalIn(text, REFUSALS), message: lastLines(output.stderr || output.stdout) };
        // 1 with a broken setup, 2 (bad arguments): the harness's command or files.
        if (output.exitCode === 1 || output.exitCode === 2) return { kind: 'error', message: `dnf5 exit status ${output.exitCode}: ${lastLines(output.stderr || output.stdout) || 'no output'}` };
        return outsideContract('dnf5', output, '0, 1 or 2');
      }
    }
  },
};
}

export const dnf5: PackageDriver = dnf5Driver();
