// What a package-manager driver is: the guest commands for each action, as argument
// arrays; parsers for what the tool prints; and the tool's documented exit-status
// contract, which turns every command's ending into ok, a refusal (with the reason
// the tool's own message gives), the tool broken (a crash, an exit status outside the
// contract: the product's failure) or an error (what the harness set up did not hold).
// Pure: the cell runner executes them.
import type { Operation, PinSpec, Refusal } from '../scenario/types.js';
import type { DetectorName } from '../levels/detectors.js';

/** What a driver needs to know of the guest it runs in, beyond the tool itself. */
export interface DriverContext {
  /** $releasever when a scenario sets none: a distribution image's VERSION_ID. */
  readonly releasever: string;
}

/** The default guest: Debian sid has no VERSION_ID for dnf5 to take $releasever from. */
export const DEBIAN_GUEST: DriverContext = { releasever: 'sid' };

export interface GuestCommand {
  readonly argv: readonly string[];
  /** Written to the command's stdin (config files go through `tee`, never a shell). */
  readonly input?: string;
}

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
  readonly name: 'dnf5' | 'zypper' | 'rpm';
  /** Whether the tool has repositories and a solver (plain rpm has neither). */
  readonly solver: boolean;
  /** Commands that leave exactly these repositories enabled, ending with the tool loading them (a failure there is an error). */
  configureRepos(repos: readonly RepoRef[], releasever?: string): { readonly commands: readonly GuestCommand[]; readonly refresh?: GuestCommand };
  /** A query of the tool's own view of its enabled repositories: every package each offers. */
  repoView(releasever?: string): GuestCommand;
  /** repo id → the packages the tool sees in it, as NAME-[EPOCH:]VERSION-RELEASE.ARCH. */
  parseRepoView(stdout: string): Map<string, string[]>;
  /** The command for an operation, or undefined when the tool has none (plain rpm has no solver). */
  operation(op: Operation, packages: readonly string[], releasever?: string): GuestCommand | undefined;
  installFile(file: string): GuestCommand;
  /** The release upgrade: every package to what release `releasever`'s repositories offer. */
  releaseUpgrade(releasever: string): GuestCommand | undefined;
  listUpdates(releasever?: string): GuestCommand | undefined;
  parseUpdates(stdout: string): string[];
  /** The tool's documented override of the machine's arch, or undefined where it has none. */
  overrideArch(arch: string): readonly GuestCommand[] | undefined;
  /** The detector of the machine's level this tool uses (harness/levels/detectors.ts). */
  readonly detector: DetectorName;
  /** How a user pins a package to an arch with this tool; undefined where it has no way (the loader refuses the step). */
  pin(pin: PinSpec): readonly GuestCommand[] | undefined;
  /** Judges an ending by the tool's documented exit statuses and messages. */
  judge(purpose: CommandPurpose, output: CommandOutput): Judgement;
  /** The same solver command, writing the solver's test case (into `dir` where the tool lets it choose); undefined without a solver. */
  solverCase(command: GuestCommand, dir: string): SolverCaseCommand | undefined;
}

/** Reads every installed package from the rpm database (a query: it must succeed). */
export const QUERY_INSTALLED: GuestCommand = { argv: ['rpm', '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n'] };

/** "NAME-[EPOCH:]VERSION-RELEASE.ARCH" with the epoch only when it is not 0. */
export function nevraOf(name: string, epoch: string | number, versionRelease: string, arch: string): string {
  return `${name}-${Number(epoch) ? `${epoch}:` : ''}${versionRelease}.${arch}`;
}

/** Parses QUERY_INSTALLED's output into sorted NEVRA strings. */
export function parseInstalled(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('gpg-pubkey '))
    .flatMap((l) => {
      const m = /^(\S+) (\d+):(\S+)\.([^.\s]+)$/.exec(l);
      return m ? [nevraOf(m[1]!, m[2]!, m[3]!, m[4]!)] : [];
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
