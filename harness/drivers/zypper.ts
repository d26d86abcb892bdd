// zypper: repositories in one .repo file of its own, in a directory of levelgate's that
// every command points zypper to (--reposd-dir), with caches of its own (--cache-dir),
// both created: nothing is assumed of the image's /etc/zypp; loaded by `zypper refresh`;
// distro-sync is `dist-upgrade` (system-wide: each cell's guest holds only its own
// scenario's repositories); install-new-recommends is `install-new-recommends` (inr),
// the command that acts on what newly supplements the installed system, hardware
// (modalias) supplements included, with recommends on (zypp.conf's default). Exit statuses are zypper(8)'s: below 100 an error, 100 and
// up information; 104 "capability not found"; 4 a problem reported by libzypp (a
// solver problem, or a repository that failed).
import { lastLines, mustSucceed, outsideContract, refusalIn, repoViewOf, RPM_DATABASE, type CommandOutput, type Judgement, type PackageDriver, type RepoRef } from './driver.js';
import { formatNevra } from '../packages/available.js';
import type { PinSpec, Refusal } from '../model/package-manager.js';

/** The only repository directory zypper reads in a cell: levelgate's, created by configureRepos. */
export const ZYPPER_REPOS_DIR = '/etc/levelgate/zypp/repos.d';
/** zypper's raw, solv and package caches: levelgate's, created with the repositories. */
export const ZYPPER_CACHE_DIR = '/var/cache/levelgate/zypp';
/** libzypp's configuration directory (zypp.conf, locks): created before a file is written there. */
const ZYPP_CONF_DIR = '/etc/zypp';
const BASE = ['zypper', '--non-interactive', '--no-gpg-checks', '--reposd-dir', ZYPPER_REPOS_DIR, '--cache-dir', ZYPPER_CACHE_DIR];
/** The zypper commands that run the solver (and take --debug-solver). */
const SOLVER_COMMANDS = ['install', 'update', 'dist-upgrade', 'remove', 'list-updates', 'install-new-recommends'];
export const ZYPPER_REPO_FILE = `${ZYPPER_REPOS_DIR}/levelgate.repo`;
const releaseArgs = (releasever?: string) => (releasever ? ['--releasever', releasever] : []);

export function zypperRepoFile(repos: readonly RepoRef[]): string {
  return repos
    .map((repo) => `[${repo.id}]\nname=${repo.id}\nenabled=1\nautorefresh=1\nbaseurl=file://${repo.path}\ntype=rpm-md\ngpgcheck=0\n`)
    .join('\n');
}

/** zypper's and libzypp's messages for each refusal. */
const REFUSALS: readonly (readonly [RegExp, Refusal])[] = [
  // What zypper and libzypp say of an arch, and what rpm's transaction under zypper says
  // ("package X is intended for a different architecture"). A local package libzypp drops
  // for its arch only shows as "No provider of '_tmpRPMcache_:...'", which zypper prints for
  // other causes too (openSUSE/zypper#551): that is not-found, by its words.
  [/has inferior architecture|incompatible architecture|is (?:intended )?for a different architecture/, 'incompatible-arch'],
  [/No provider of|not found in package names|Package '[^']*' not found/, 'not-found'],
  // A lock (zypper's pin) in the way: "remove lock to allow installation of X" is a solution it offers.
  [/conflicts with|is locked|remove lock to allow/, 'conflict'],
  [/nothing provides|requires .* but this requirement cannot be provided/, 'dependency'],
];

/** "Repository 'X' is invalid", "Skipping repository": a repository failed, not the solver. */
const REPO_FAILED = /Repository '[^']*' is invalid|Skipping repository|have not been refreshed|Could not refresh the repositories|Problem retrieving/;

export const zypper: PackageDriver = {
  name: 'zypper',
  ...RPM_DATABASE,
  solver: true,
  configureRepos: (repos, releasever) => ({
    commands: [
      // Exactly these repositories, in the one directory zypper reads: an image's own definitions stay where they are, unread.
      { argv: ['mkdir', '-p', ZYPPER_REPOS_DIR, ZYPPER_CACHE_DIR] },
      { argv: ['tee', ZYPPER_REPO_FILE], input: zypperRepoFile(repos) },
    ],
    refresh: { argv: [...BASE, ...releaseArgs(releasever), 'refresh'] },
  }),
  repoView: (releasever) => ({ argv: [...BASE, ...releaseArgs(releasever), '--xmlout', 'search', '--details', '--type', 'package'] }),
  // <solvable status="not-installed" name="N" kind="package" edition="[E:]V-R" arch="A" repository="ALIAS"/>
  parseRepoView: (stdout) =>
    repoViewOf(
      [...stdout.matchAll(/<solvable\b[^>]*>/g)].flatMap((m) => {
        const attr = (name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(m[0])?.[1];
        const repo = attr('repository');
        const name = attr('name');
        const edition = attr('edition');
        const arch = attr('arch');
        if (!repo || !name || !edition || !arch || repo === '(System Packages)') return [];
        const e = /^(?:(\d+):)?(.+)$/.exec(edition)!;
        return [[repo, formatNevra(name, e[1] ?? 0, e[2]!, arch)] as const];
      }),
    ),
  operation: (op, packages, releasever) => {
    const args = [...BASE, ...releaseArgs(releasever)];
    switch (op) {
      case 'install':
        return { argv: [...args, 'install', ...packages] };
      case 'upgrade':
        return { argv: [...args, 'update', ...packages] };
      case 'downgrade':
        return { argv: [...args, 'install', '--oldpackage', ...packages] };
      case 'distro-sync':
        return { argv: [...args, 'dist-upgrade'] };
      case 'remove':
        return { argv: [...args, 'remove', ...packages] };
      case 'install-new-recommends':
        return { argv: [...args, 'install-new-recommends'] };
    }
  },
  installFile: (file) => ({ argv: [...BASE, 'install', file] }),
  releaseUpgrade: (releasever) => ({ argv: [...BASE, '--releasever', releasever, 'dist-upgrade'] }),
  listUpdates: (releasever) => ({ argv: [...BASE, ...releaseArgs(releasever), 'list-updates'] }),
  // Table rows: "v | REPO | NAME | CURRENT | AVAILABLE | ARCH".
  parseUpdates: (stdout) => [...new Set(stdout.split('\n').flatMap((l) => /^v\s*\|\s*\S+\s*\|\s*(\S+)\s*\|/.exec(l)?.slice(1, 2) ?? []))].sort(),
  // libzypp upgrades uname's x86_64 to the level CPUID shows (`zypper system-architecture`).
  detector: 'libzypp',
  // zypp.conf(5): "arch = ..." in [main] overrides the detected architecture (Debian ships no zypp.conf).
  // ('default' would have to take the line out of zypp.conf again: not offered.)
  overrideArch: (arch) =>
    arch === 'default'
      ? undefined
      : [
    { argv: ['mkdir', '-p', ZYPP_CONF_DIR] },
    { argv: ['tee', '-a', `${ZYPP_CONF_DIR}/zypp.conf`], input: `\n[main]\narch = ${arch}\n` },
        ],
  // zypper can lock a package but not one arch of it ("not possible to create a complex
  // lock with arch rule with zypper means", libzypp PoolQuery.cc): the lock holds the
  // installed package as it is, arch and version.
  pin: (pin: PinSpec) => [{ argv: ['mkdir', '-p', ZYPP_CONF_DIR] }, { argv: [...BASE, 'addlock', pin.name] }],
  // --debug-solver, a command option (before the package names): writes the solver's
  // testcase instead of acting (zypper(8)), always to this directory.
  solverCase: (command) => {
    const at = command.argv.findIndex((a) => SOLVER_COMMANDS.includes(a));
    if (at < 0) return undefined;
    return { command: { ...command, argv: [...command.argv.slice(0, at + 1), '--debug-solver', ...command.argv.slice(at + 1)] }, testcaseDir: '/var/log/zypper.solverTestCase' };
  },
  judge: (purpose, output: CommandOutput): Judgement => {
    const text = `${output.stdout}\n${output.stderr}`;
    switch (purpose) {
      case 'list-updates':
      case 'query':
        return mustSucceed(output);
      case 'configure':
        return mustSucceed(output, [0], 'error');
      // 104: the search found nothing (no enabled repository has a package).
      case 'repo-view':
        return mustSucceed(output, [0, 104]);
      case 'refresh': {
        const judged = mustSucceed(output, [0], 'error');
        if (judged.kind !== 'error') return judged;
        const failed = [...text.matchAll(/(?:Repository|Skipping repository) '([^']+)'/g)].map((m) => m[1]);
        return { kind: 'error', message: `repositories did not load${failed.length ? ` (${[...new Set(failed)].join(', ')})` : ''}: ${lastLines(output.stderr || output.stdout)}` };
      }
      case 'operation': {
        if (output.signal) return outsideContract('zypper', output, '');
        const code = output.exitCode ?? -1;
        // 102/103: done, a reboot or restart is advised; 107: done, but a scriptlet failed (the checks see the state).
        if (code === 0 || code === 102 || code === 103) return { kind: 'ok' };
        if (code === 107) return { kind: 'ok', note: `zypper exit 107: an RPM scriptlet failed: ${lastLines(text)}` };
        if ((code === 4 || code === 8 || code === 104) && !REPO_FAILED.test(text)) {
          return { kind: 'refused', reason: refusalIn(text, REFUSALS), message: lastLines(output.stderr || output.stdout) };
        }
        if (code === 106) return { kind: 'error', message: `zypper skipped a repository that failed to load (exit 106): ${lastLines(text)}` };
        // The harness's: 2 syntax, 3 invalid arguments, 5 privileges, 6 no repositories, 7 locked, 4/8 a repository that failed.
        if ([2, 3, 4, 5, 6, 7, 8].includes(code)) return { kind: 'error', message: `zypper exit status ${code}: ${lastLines(output.stderr || output.stdout) || 'no output'}` };
        // 1 is ZYPPER_EXIT_ERR_BUG ("an unexpected situation"), 105 ZYPPER_EXIT_ON_SIGNAL; anything else is not in zypper(8).
        return outsideContract('zypper', output, '0, 2-8, 100-107');
      }
    }
  },
};
