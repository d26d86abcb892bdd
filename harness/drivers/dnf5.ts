// dnf5: repositories in one .repo file of their own; every operation by name; the exit
// statuses of dnf5(8) (0 success, 1 error, 2 bad arguments; check-upgrade 100 when
// updates exist). Its configuration is the distribution's own: Debian's, like Fedora's,
// sets skip_if_unavailable=True, so a repository that fails to load is skipped with
// exit 0 — the harness reads the tool's view of its repositories to catch that.
import { DEBIAN_GUEST, judgeOperation, mustSucceed, nevraOf, RPM_DATABASE, repoViewOf, type CommandOutput, type DriverContext, type Judgement, type PackageDriver, type RepoRef } from './driver.js';
import type { PinSpec, Refusal } from '../scenario/types.js';
import { VARIANT_ARCHES } from '../levels/arch.js';

export const DNF5_REPO_FILE = '/etc/yum.repos.d/levelgate.repo';
/** Pins live in a drop-in of their own, next to the distribution's dnf.conf. */
export const DNF5_PIN_FILE = '/etc/dnf/libdnf5.conf.d/50-levelgate-pins.conf';

export function dnf5RepoFile(repos: readonly RepoRef[]): string {
  return repos.map((repo) => `[${repo.id}]\nname=${repo.id}\nbaseurl=file://${repo.path}\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\n`).join('\n');
}

/** dnf5's messages for each refusal (libdnf5/base/solver_problems.cpp and the CLI). */
const REFUSALS: readonly (readonly [RegExp, Refusal])[] = [
  [/does not have a compatible architecture/, 'incompatible-arch'],
  [/No match for argument|No packages to (?:install|remove|upgrade|downgrade)|Packages for argument .* available, but not installed/, 'not-found'],
  [/conflicts with|is filtered out by exclude filtering|cannot install both/, 'conflict'],
  [/nothing provides|requires .*, but none of the providers can be installed/, 'dependency'],
];
/** Messages that mean the harness or the guest is broken, not that dnf5 refused. */
const BROKEN = /Failed to download metadata|Failed to access RPM|Cannot open|Permission denied|No space left/;

/** dnf5 in a guest whose $releasever, when a scenario sets none, is `context.releasever` (the default guest: Debian sid, which has no VERSION_ID). */
export function dnf5Driver(context: DriverContext = DEBIAN_GUEST): PackageDriver {
  const DEFAULT_RELEASEVER = context.releasever;
  const base = (releasever = DEFAULT_RELEASEVER) => ['dnf5', '-y', `--releasever=${releasever}`, '--setopt=install_weak_deps=False'];
  return {
  name: 'dnf5',
  ...RPM_DATABASE,
  solver: true,
  configureRepos: (repos) => ({
    // Exactly the enabled repositories, in one file: every other definition goes (a
    // distribution's own would need a network; the default guest has none).
    commands: [
      { argv: ['find', '/etc/yum.repos.d', '-name', '*.repo', '!', '-name', 'levelgate.repo', '-delete'] },
      { argv: ['tee', DNF5_REPO_FILE], input: dnf5RepoFile(repos) },
    ],
  }),
  // Every package of every enabled repository, with its repository; excludes (pins) do not hide packages from the view.
  repoView: (releasever = DEFAULT_RELEASEVER) => ({
    argv: ['dnf5', `--releasever=${releasever}`, '--setopt=disable_excludes=*', 'repoquery', '--available', '--queryformat', '%{repoid} %{name} %{epoch} %{version}-%{release} %{arch}\\n'],
  }),
  parseRepoView: (stdout) =>
    repoViewOf(
      stdout.split('\n').flatMap((line) => {
        const m = /^(\S+) (\S+) (\d+) (\S+) (\S+)$/.exec(line.trim());
        return m ? [[m[1]!, nevraOf(m[2]!, m[3]!, m[4]!, m[5]!)] as const] : [];
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
        return mustSucceed(output);
      case 'operation':
        return judgeOperation('dnf5', output, { refusedStatuses: [1], refusals: REFUSALS, broken: BROKEN });
    }
  },
};
}

export const dnf5: PackageDriver = dnf5Driver();
