// What a package-manager driver is: the guest commands for each action, as argument
// arrays; parsers for what the tool prints; and the tool's documented exit-status
// contract, which turns every command's ending into ok, a refusal (with the reason
// the tool's own message gives), the tool broken (a crash, an exit status outside the
// contract: the product's failure) or an error (what the harness set up did not hold).
// Pure: the cell runner executes them.
import type { ArchSetting, DriverName, Operation, PinSpec, Refusal } from '../model/package-manager.js';
import type { DetectorName } from './detectors.js';
import type { GuestCommand } from '../model/guest.js';
import { formatNevra } from '../packages/available.js';

/** What a driver needs to know of the guest it runs in, beyond the tool itself. */
export interface DriverContext {
  /** $releasever when a scenario sets none: a distribution image's VERSION_ID. */
  readonly releasever: string;
}

/** The default guest: Debian sid has no VERSION_ID for dnf5 to take $releasever from. */
export const DEBIAN_GUEST: DriverContext = { releasever: 'sid' };

/** A solver command that writes the solver's own test case (a libsolv testcase) where a maintainer can replay it. */
export interface SolverCaseCommand {
  readonly command: GuestCommand;
  /** The directory the tool writes testcase.t, the repositories and the result into. */
  readonly testcaseDir: string;
}

export interface RepoRef {
  /** The repository id the package manager uses. */
  readonly id: string;
  /** Absolute path in the guest; may contain $releasever, which the tool expands. */
  readonly path: string;
  /** An apt repository's suite and components (from its Release file); rpm-md and pacman repositories have none. */
  readonly apt?: { readonly suite: string; readonly components: readonly string[] };
}

/**
 * What a command's ending means under the tool's contract: `broken` is the tool's own
 * failure (killed by a signal, an exit status its contract does not have), which fails
 * the cell; `error` is the harness's (a repository or file it set up did not load, a
 * command line the tool calls a usage error), which ends the cell as an error. Neither
 * is retried: only the emulator's failures are.
 */
export type Judgement =
  | { readonly kind: 'ok'; readonly note?: string }
  | { readonly kind: 'refused'; readonly reason: Refusal | undefined; readonly message: string }
  | { readonly kind: 'broken'; readonly message: string }
  | { readonly kind: 'error'; readonly message: string };

/**
 * What the harness asked for: a package operation or local install (which a tool may
 * refuse), a query (which must work: a failed query is an error), or configuration.
 */
export type CommandPurpose = 'operation' | 'query' | 'repo-view' | 'list-updates' | 'configure' | 'refresh';

export interface CommandOutput {
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface PackageDriver {
  readonly name: DriverName;
  /** Reads the installed set from the tool's own database (a query: it must succeed). */
  readonly installedQuery: GuestCommand;
  /** The installed set, as sorted NAME-[EPOCH:]VERSION-RELEASE.ARCH (levelgate's arch words: x86_64_v3 for amd64v3). */
  parseInstalled(stdout: string): string[];
  /**
   * Arches whose every build in an enabled repository the tool's view must show: a tool
   * may hide builds of arches it does not take on this CPU (libzypp drops them from its
   * pool as it loads; apt reads a variant's index instead of the base one).
   */
  alwaysShows(arch: string): boolean;
  /** Whether the tool has repositories and a solver (plain rpm has neither). */
  readonly solver: boolean;
  /** Commands that leave exactly these repositories enabled, ending with the tool loading them (a failure there is an error). */
  configureRepos(repos: readonly RepoRef[], releasever?: string): { readonly commands: readonly GuestCommand[]; readonly refresh?: GuestCommand };
  /** A query of the tool's own view of its enabled repositories: every package each offers. */
  repoView(releasever?: string): GuestCommand;
  /** repo id → the packages the tool sees in it, as NAME-[EPOCH:]VERSION-RELEASE.ARCH (`repos`: the enabled ones, for tools that name a repository by its location). */
  parseRepoView(stdout: string, repos: readonly RepoRef[]): Map<string, string[]>;
  /** The command for an operation, or undefined when the tool has none (plain rpm has no solver). */
  operation(op: Operation, packages: readonly string[], releasever?: string): GuestCommand | undefined;
  installFile(file: string): GuestCommand;
  /** The release upgrade: every package to what release `releasever`'s repositories offer. */
  releaseUpgrade(releasever: string): GuestCommand | undefined;
  listUpdates(releasever?: string): GuestCommand | undefined;
  parseUpdates(stdout: string): string[];
  /** The tool's documented override of the machine's arch ('default': back to the tool's own setting), or undefined where it has none. */
  overrideArch(arch: ArchSetting): readonly GuestCommand[] | undefined;
  /** The detector of the machine's level this tool uses (harness/levels/detectors.ts). */
  readonly detector: DetectorName;
  /** How a user pins a package to an arch with this tool; undefined where it has no way (the loader refuses the step). */
  pin(pin: PinSpec): readonly GuestCommand[] | undefined;
  /** Judges an ending by the tool's documented exit statuses and messages. */
  judge(purpose: CommandPurpose, output: CommandOutput): Judgement;
  /**
   * The same solver command, writing the solver's test case (into `dir` where the tool
   * lets it choose); undefined for a command that is not the solver's. Absent: the tool
   * writes none (rpm, apt, pacman), and a reproducer has no replay to make one.
   */
  solverCase?(command: GuestCommand, dir: string): SolverCaseCommand | undefined;
}

/** Reads every installed package from the rpm database (a query: it must succeed). */
export const QUERY_INSTALLED: GuestCommand = { argv: ['rpm', '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n'] };


/** Parses QUERY_INSTALLED's output into sorted NEVRA strings. */
export function parseInstalled(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('gpg-pubkey '))
    .flatMap((l) => {
      const m = /^(\S+) (\d+):(\S+)\.([^.\s]+)$/.exec(l);
      return m ? [formatNevra(m[1]!, m[2]!, m[3]!, m[4]!)] : [];
    })
    .sort();
}

/** The last non-empty lines of a tool's output, for messages. */
export function lastLines(text: string, n = 3): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-n)
    .join(' | ');
}

/** What every rpm-database driver shares: the installed set read with rpm -qa, and the builds its view always shows. */
export const RPM_DATABASE = {
  installedQuery: QUERY_INSTALLED,
  parseInstalled,
  // Baseline and noarch builds are in every rpm tool's pool, whatever the CPU.
  alwaysShows: (arch: string) => arch === 'noarch' || arch === 'x86_64',
} as const;

/**
 * A query or configuration command: ok on an exit status in `okStatuses`. A crash is
 * the tool broken; another status is `otherwise`: the tool broken for its own queries,
 * an error for the harness's configuration (a file not written, a repository not loaded).
 */
export function mustSucceed(output: CommandOutput, okStatuses: readonly number[] = [0], otherwise: 'broken' | 'error' = 'broken'): Judgement {
  if (output.signal) return { kind: 'broken', message: `killed by ${output.signal}` };

  if (output.exitCode !== null && okStatuses.includes(output.exitCode)) return { kind: 'ok' };
  return { kind: otherwise, message: `exit status ${output.exitCode}: ${lastLines(output.stderr || output.stdout) || 'no output'}` };
}

/** What the harness set up: a failure there is an error, a crash still the tool's. */
export const setUpBy = (purpose: CommandPurpose): 'broken' | 'error' => (purpose === 'configure' || purpose === 'refresh' ? 'error' : 'broken');

/** An operation's ending outside the tool's contract: killed by a signal, or an exit status the contract does not have. */
export function outsideContract(tool: string, output: CommandOutput, contract: string): Judgement {
  if (output.signal) return { kind: 'broken', message: `${tool} was killed by ${output.signal}` };
  return { kind: 'broken', message: `${tool} exit status ${output.exitCode}, outside its contract (${contract}): ${lastLines(output.stderr || output.stdout) || 'no output'}` };
}

/** The first refusal reason whose pattern matches the output. */
export function refusalIn(text: string, patterns: readonly (readonly [RegExp, Refusal])[]): Refusal | undefined {
  return patterns.find(([re]) => re.test(text))?.[1];
}

/** What a tool's exit statuses mean for a package operation: which statuses are refusals, which messages say why, which mean the harness or guest is broken. */
export interface OperationContract {
  readonly refusedStatuses: readonly number[];
  readonly refusals: readonly (readonly [RegExp, Refusal])[];
  /** Messages that turn a refusal status into an error (a repository or file that could not be read, a full disk). */
  readonly broken: RegExp;
}

/**
 * Judges a package operation's ending by its tool's contract: 0 ok; a refusal status
 * refused (with the reason its message gives), or an error when the message says a
 * repository or file the harness set up could not be read; a crash or any other status
 * the tool broken (the product's failure, never retried).
 */
export function judgeOperation(tool: string, output: CommandOutput, contract: OperationContract): Judgement {
  if (output.exitCode === 0 && !output.signal) return { kind: 'ok' };
  const text = `${output.stdout}\n${output.stderr}`;
  if (!output.signal && output.exitCode !== null && contract.refusedStatuses.includes(output.exitCode)) {
    if (contract.broken.test(text)) return { kind: 'error', message: `${tool} exit status ${output.exitCode}: ${lastLines(output.stderr || output.stdout) || 'no output'}` };
    return { kind: 'refused', reason: refusalIn(text, contract.refusals), message: lastLines(output.stderr || output.stdout) };
  }
  return outsideContract(tool, output, ['0', ...contract.refusedStatuses].join(' or '));
}

/** A repository view from (repository id, NEVRA) pairs, in the order seen. */
export function repoViewOf(entries: Iterable<readonly [string, string]>): Map<string, string[]> {
  const view = new Map<string, string[]>();
  for (const [repo, nevra] of entries) {
    if (!view.has(repo)) view.set(repo, []);
    view.get(repo)!.push(nevra);
  }
  return view;
}
