// Plain rpm: no repositories and no solver; local files, detection and the database.
// No package operation (install by name, install-new-recommends...) exists without a solver.
// Exit status 0 or 1 (rpm(8)); the message says why it refused.
import path from 'node:path';
import { lastLines, mustSucceed, outsideContract, refusalIn, setUpBy, type Judgement, type PackageDriver } from './driver.js';
import type { Refusal } from '../scenario/types.js';

/** rpm's messages (lib/rpmprob.c) for each refusal. */
/** rpm's platform file: its first line replaces the detected platform. */
export const RPM_PLATFORM_FILE = '/etc/rpm/platform';

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
  overrideArch: (arch) => [
    { argv: ['mkdir', '-p', path.posix.dirname(RPM_PLATFORM_FILE)] },
    { argv: ['tee', RPM_PLATFORM_FILE], input: `${arch}-pc-linux\n` },
  ],
  // rpm has no pin: a scenario that pins cannot run with it.
  pin: () => undefined,
  solverCase: () => undefined,
  judge: (purpose, output): Judgement => {
    if (purpose !== 'operation') return mustSucceed(output, [0], setUpBy(purpose));
    if (output.exitCode === 0) return { kind: 'ok' };
    const text = `${output.stdout}\n${output.stderr}`;
    if (output.exitCode === 1 && !BROKEN.test(text)) return { kind: 'refused', reason: refusalIn(text, REFUSALS), message: lastLines(output.stderr || output.stdout) };
    // 1 with a file or database the harness set up unreadable: the harness's problem.
    if (output.exitCode === 1) return { kind: 'error', message: `rpm exit status 1: ${lastLines(output.stderr || output.stdout) || 'no output'}` };
    return outsideContract('rpm', output, '0 or 1');
  },
};
