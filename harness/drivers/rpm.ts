// Plain rpm: no repositories and no solver; local files, detection and the database.
// No package operation (install by name, install-new-recommends...) exists without a solver.
// Exit status 0 or 1 (rpm(8)); the message says why it refused.
import path from 'node:path';
import { judgeOperation, mustSucceed, RPM_DATABASE, setUpBy, type Judgement, type PackageDriver } from './driver.js';
import type { Refusal } from '../model/package-manager.js';

/** rpm's platform file: its first line replaces the detected platform. */
export const RPM_PLATFORM_FILE = '/etc/rpm/platform';

/** rpm's messages (lib/rpmprob.c) for each refusal. */
const REFUSALS: readonly (readonly [RegExp, Refusal])[] = [
  [/is intended for a (?:different|\S+) architecture/, 'incompatible-arch'],
  [/conflicts with/, 'conflict'],
  [/Failed dependencies|is needed by/, 'dependency'],
  [/is not installed/, 'not-found'],
];
/** The harness's or the guest's problem, not a refusal: a file that cannot be read, a database that cannot be opened. */
const BROKEN = /open of .* failed|cannot open Packages|failed to open|No space left/;

export const rpm: PackageDriver = {
  name: 'rpm',
  ...RPM_DATABASE,
  solver: false,
  configureRepos: () => ({ commands: [] }),
  repoView: () => ({ argv: ['true'] }),
  parseRepoView: () => new Map(),
  operation: () => undefined,
  installFile: (file) => ({ argv: ['rpm', '-i', file] }),
  releaseUpgrade: () => undefined,
  listUpdates: () => undefined,
  parseUpdates: () => [],
  // "install arch" of `rpm --showrc`: CPUID and XCR0.
  detector: 'rpm',
  // /etc/rpm/platform ("ARCH-VENDOR-OS") replaces the detected platform (rpmrc).
  // 'default': without the file rpm detects the platform again.
  overrideArch: (arch) =>
    arch === 'default'
      ? [{ argv: ['rm', '-f', RPM_PLATFORM_FILE] }]
      : [
          { argv: ['mkdir', '-p', path.posix.dirname(RPM_PLATFORM_FILE)] },
          { argv: ['tee', RPM_PLATFORM_FILE], input: `${arch}-pc-linux\n` },
        ],
  // rpm has no pin: a scenario that pins cannot run with it.
  pin: () => undefined,
  judge: (purpose, output): Judgement => (purpose === 'operation' ? judgeOperation('rpm', output, { refusedStatuses: [1], refusals: REFUSALS, broken: BROKEN }) : mustSucceed(output, [0], setUpBy(purpose))),
};
