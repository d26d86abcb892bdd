// pacman (Debian sid's pacman-package-manager 7.1, Arch's own): repositories are sections
// of pacman.conf, read in order (the first one that has a name wins, whatever the
// version, as ALHP's and CachyOS's level repositories rely on); `Architecture` lives in
// an options file of its own that pacman.conf includes (the image sets `auto`, which is
// uname: no level detection upstream). pacman exits 1 on any failure (pacman(8)); `-Q`
// and `-Qu` exit 1 when there is nothing to list.
import { archOfPacman, type RpmArch } from '../levels/arch.js';
import type { Refusal } from '../model/package-manager.js';
import { judgeOperation, lastLines, mustSucceed, repoViewOf, type CommandOutput, type Judgement, type PackageDriver, type RepoRef } from './driver.js';
import { formatNevra } from '../packages/available.js';

export const PACMAN_CONF = '/etc/pacman.conf';
/** `Architecture = ...`, included from pacman.conf's [options]: what an arch override rewrites. */
export const PACMAN_OPTIONS_FILE = '/etc/pacman.d/levelgate-options.conf';

const PACMAN = ['pacman', '--noconfirm'];

/**
 * pacman.conf with exactly these repositories, in order: unsigned fixtures, and the
 * sandbox off (the guest's kernel has no Landlock for pacman's download sandbox).
 */
export function pacmanConf(repos: readonly RepoRef[]): string {
  return [
    '[options]',
    `Include = ${PACMAN_OPTIONS_FILE}`,
    'SigLevel = Never',
    'LocalFileSigLevel = Never',
    'DisableSandboxFilesystem',
    'DisableSandboxSyscalls',
    ...repos.flatMap((repo) => ['', `[${repo.id}]`, `Server = file://${repo.path}`]),
    '',
  ].join('\n');
}

/** `Architecture` for an arch: the baseline and that level, as a user adding CachyOS's repositories to upstream pacman writes it; 'default' is `auto`. */
export function pacmanArchitecture(arch: RpmArch | 'default'): string | undefined {
  if (arch === 'default') return 'Architecture = auto\n';
  if (arch === 'noarch') return undefined;
  return `Architecture = ${arch === 'x86_64' ? 'x86_64' : `x86_64 ${arch}`}\n`;
}

/** pacman's messages for each refusal (lib/libalpm/error.c, src/pacman/sync.c). */
const REFUSALS: readonly (readonly [RegExp, Refusal])[] = [
  [/does not have a valid architecture|package architecture is not valid/, 'incompatible-arch'],
  [/target not found/, 'not-found'],
  [/conflicting files|are in conflict|conflicting dependencies/, 'conflict'],
  [/unable to satisfy dependency|could not satisfy dependencies|breaks dependency/, 'dependency'],
];
/** A repository or file pacman could not read, a lock, a full disk: the harness's problem. */
const BROKEN = /failed to synchronize|failed retrieving file|database file for '[^']+' does not exist|could not open file|unable to lock database|No space left|not enough free disk space|failed to initialize alpm/;

/** "Key : value" blocks, as pacman -Qi and -Si print them. */
function infoBlocks(stdout: string): Map<string, string>[] {
  return stdout
    .split(/\n\s*\n/)
    .map((block) => new Map(block.split('\n').flatMap((l) => { const m = /^([A-Za-z ]+?)\s*: (.*)$/.exec(l); return m ? [[m[1]!, m[2]!.trim()] as [string, string]] : []; })))
    .filter((b) => b.has('Name'));
}

/** pacman's VERSION ([EPOCH:]PKGVER-PKGREL) as levelgate's NEVRA. */
function pacmanNevra(block: Map<string, string>): string {
  const m = /^(?:(\d+):)?(.+)$/.exec(block.get('Version') ?? '')!;
  return formatNevra(block.get('Name')!, m[1] ?? 0, m[2]!, archOfPacman(block.get('Architecture') ?? ''));
}

export const parsePacmanInstalled = (stdout: string): string[] => infoBlocks(stdout).map(pacmanNevra).sort();

/** A query that exits 1 with nothing printed found nothing to list: ok. */
function queryJudge(output: CommandOutput): Judgement {
  if (output.exitCode === 1 && !output.signal && !output.stdout.trim() && !output.stderr.trim()) return { kind: 'ok' };
  return mustSucceed(output);
}

export const pacman: PackageDriver = {
  name: 'pacman',
  installedQuery: { argv: ['pacman', '-Qi'] },
  parseInstalled: parsePacmanInstalled,
  solver: true,
  // pacman lists every package of every repository, whatever its arch.
  alwaysShows: () => true,
  configureRepos: (repos) => ({
    commands: [{ argv: ['tee', PACMAN_CONF], input: pacmanConf(repos) }],
    refresh: { argv: [...PACMAN, '-Sy'] },
  }),
  repoView: () => ({ argv: ['pacman', '-Si'] }),
  parseRepoView: (stdout) => repoViewOf(infoBlocks(stdout).map((b) => [b.get('Repository') ?? '', pacmanNevra(b)] as const)),
  operation: (op, packages) => {
    switch (op) {
      case 'install':
        return { argv: [...PACMAN, '-S', ...packages] };
      // pacman upgrades the whole system (Arch supports no partial upgrade): -Syu.
      case 'upgrade':
        return { argv: [...PACMAN, '-Syu'] };
      // -Syuu: the full upgrade, which also downgrades what is newer than the repositories' builds (the variant switch after a move).
      case 'distro-sync':
        return { argv: [...PACMAN, '-Syuu'] };
      case 'remove':
        return { argv: [...PACMAN, '-R', ...packages] };
      // pacman downgrades only from a file (-U) or system-wide (-Syuu); it has no recommends.
      case 'downgrade':
      case 'install-new-recommends':
        return undefined;
    }
  },
  installFile: (file) => ({ argv: [...PACMAN, '-U', file] }),
  releaseUpgrade: () => undefined,
  listUpdates: () => ({ argv: ['pacman', '-Qu'] }),
  // "lgstale 1.0-1 -> 1.1-1"
  parseUpdates: (stdout) => [...new Set(stdout.split('\n').flatMap((l) => /^(\S+) \S+ -> \S+/.exec(l.trim())?.slice(1, 2) ?? []))].sort(),
  // pacman-conf Architecture: `auto` is uname -m.
  detector: 'pacman-arch',
  overrideArch: (arch) => {
    const line = pacmanArchitecture(arch);
    return line ? [{ argv: ['tee', PACMAN_OPTIONS_FILE], input: line }] : undefined;
  },
  // IgnorePkg holds a name back, not an arch: no arch pin to write.
  pin: () => undefined,
  judge: (purpose, output): Judgement => {
    switch (purpose) {
      case 'query':
      case 'repo-view':
      case 'list-updates':
        return queryJudge(output);
      case 'configure':
        return mustSucceed(output, [0], 'error');
      case 'refresh': {
        const judged = mustSucceed(output, [0], 'error');
        return judged.kind === 'ok' ? judged : { kind: 'error', message: `repositories did not load: ${lastLines(output.stderr || output.stdout)}` };
      }
      case 'operation':
        return judgeOperation('pacman', output, { refusedStatuses: [1], refusals: REFUSALS, broken: BROKEN });
    }
  },
};
