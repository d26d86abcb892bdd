// What a package-manager driver is: the guest commands for each operation, as argument
// arrays, and parsers for what the tool prints. Pure: the cell runner executes them.
import type { DriverName, Operation } from '../scenario/types.js';

export interface GuestCommand {
  readonly argv: readonly string[];
  /** Written to the command's stdin (config files go through `tee`, never a shell). */
  readonly input?: string;
  /** Exit statuses that mean success besides 0 (dnf5 check-upgrade says 100 for "updates available"). */
  readonly okStatuses?: readonly number[];
}

export interface RepoRef {
  readonly id: string;
  /** Absolute path in the guest. */
  readonly path: string;
}

export interface PackageDriver {
  readonly name: DriverName;
  /** Commands that leave exactly these repositories enabled. */
  useRepos(repos: readonly RepoRef[]): GuestCommand[];
  /** The command for an operation, or undefined when the tool has none (plain rpm has no solver). */
  operation(op: Operation, packages: readonly string[]): GuestCommand | undefined;
  installFile(file: string): GuestCommand;
  listUpdates(): GuestCommand | undefined;
  parseUpdates(stdout: string): string[];
  /** The command that shows which arch the tool believes the machine is. */
  detectArch(): GuestCommand;
  parseDetectedArch(stdout: string): string | undefined;
  version(): GuestCommand;
}

/** Reads every installed package from the rpm database. */
export const QUERY_INSTALLED: GuestCommand = { argv: ['rpm', '-qa', '--qf', '%{NAME} %{VERSION}-%{RELEASE}.%{ARCH}\\n'] };

/** Parses QUERY_INSTALLED's output into sorted "NAME-VERSION-RELEASE.ARCH" strings. */
export function parseInstalled(stdout: string): string[] {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('gpg-pubkey '))
    .map((l) => l.replace(' ', '-'))
    .sort();
}
