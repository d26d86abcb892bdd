// What a package manager's dry run chose for each name it was asked to install, read
// from the tool's own answer (dnf5's transaction table under --assumeno, zypper's
// --xmlout install summary under --dry-run), and each name's selection judged against
// the best variant computed from the metadata. Pure.
import { bestVariant, evraString, parseNevra, type AvailablePackage } from '../packages/available.js';
import type { PackageDriver } from '../drivers/driver.js';
import type { GuestCommand } from '../model/guest.js';
import type { LevelName } from '../levels/table.js';
import type { CheckResult, CommandRecord } from '../results/types.js';
import { installedDeviation } from '../scenario/evaluate.js';
import type { DriverName } from '../model/package-manager.js';
import { escapeRegExp } from '../util/regexp.js';

/** The drivers a compose audit runs (they resolve in dry runs). */
export const COMPOSE_DRIVERS = ['dnf5', 'zypper'] as const satisfies readonly DriverName[];
export type ComposeDriver = (typeof COMPOSE_DRIVERS)[number];

/** The dry run of installing `names` (the driver's own install command, never acting). */
export function dryRunInstall(driver: PackageDriver, names: readonly string[]): GuestCommand {
  const install = driver.operation('install', names);
  if (!install) throw new Error(`${driver.name} has no install operation`);
  if (driver.name === 'dnf5') return { argv: [...install.argv.filter((a) => a !== '-y'), '--assumeno'] };
  if (driver.name === 'zypper') {
    const at = install.argv.indexOf('install');
    return { argv: [install.argv[0]!, '--xmlout', ...install.argv.slice(1, at + 1), '--dry-run', ...install.argv.slice(at + 1)] };
  }
  throw new Error(`a compose audit cannot dry-run ${driver.name}`);
}

/** dnf5 --assumeno answers exit 1 "Operation aborted by the user." after printing the transaction it would run. */
export const dnf5Aborted = (stdout: string, stderr: string): boolean => /Operation aborted by the user/.test(`${stdout}\n${stderr}`);

/** Every package the dry run would install, as parsed NEVRAs. */
export function parseDryRun(driver: DriverName, stdout: string): AvailablePackage[] {
  if (driver === 'zypper') {
    const summary = /<to-install>([\s\S]*?)<\/to-install>/.exec(stdout)?.[1] ?? '';
    return [...summary.matchAll(/<solvable\b[^>]*>/g)].flatMap((m) => {
      const attr = (name: string) => new RegExp(`\\b${name}="([^"]*)"`).exec(m[0])?.[1];
      const name = attr('name');
      const edition = attr('edition');
      const arch = attr('arch');
      const p = name && edition && arch ? parseNevra(`${name}-${edition}.${arch}`) : undefined;
      return p ? [p] : [];
    });
  }
  // dnf5's table: " NAME  ARCH  EPOCH:VERSION-RELEASE  REPO  SIZE" under "Installing:" and "Installing dependencies:".
  const chosen: AvailablePackage[] = [];
  let inInstall = false;
  for (const line of stdout.split('\n')) {
    if (/^\S/.test(line)) inInstall = /^Installing( dependencies| weak dependencies)?:/.test(line);
    const m = inInstall ? /^ (\S+)\s+(noarch|x86_64(?:_v[234])?)\s+(?:(\d+):)?(\S+)-(\S+)\s+\S+/.exec(line) : null;
    if (m) chosen.push({ name: m[1]!, arch: m[2]!, epoch: Number(m[3] ?? 0), version: m[4]!, release: m[5]! });
  }
  return chosen;
}

/** The "installed NAME is the best variant" check of one name, from what the tool chose. */
export function selectionCheck(name: string, level: LevelName, available: readonly AvailablePackage[], chosen: readonly AvailablePackage[]): CheckResult {
  const want = bestVariant(name, level, available);
  const expected = want ? evraString(want) : 'not installed';
  const have = chosen.filter((p) => p.name === name);
  const actual = have.length ? have.map(evraString).join(', ') : 'nothing';
  const ok = want !== undefined && have.length === 1 && evraString(have[0]!) === expected;
  return {
    kind: 'installed',
    subject: name,
    check: `installed ${name}`,
    expected: want ? `${expected} (the best variant for ${level})` : expected,
    actual,
    status: ok ? 'pass' : 'fail',
    ...(ok ? {} : { deviation: installedDeviation(name, { best: true }, expected, have) }),
  };
}

/** The lines of a tool's answer that are about `name` (its own evidence in a batch's output). */
export function linesAbout(name: string, text: string): string {
  const word = new RegExp(`(^|[\\s"'(/])${escapeRegExp(name)}(?=[-\\s"'.)]|$)`);
  return text
    .split('\n')
    .filter((l) => word.test(l))
    .join('\n');
}

/** A command record whose output keeps only the lines about `name` (its own evidence in a batch's answer). */
export function aboutName(record: CommandRecord, name: string, batch: number): CommandRecord {
  return {
    ...record,
    stdout: `[${batch} name${batch > 1 ? 's' : ''} in this command; the lines about ${name}:]\n${linesAbout(name, record.stdout)}`,
    stderr: linesAbout(name, record.stderr) || (batch === 1 ? record.stderr : ''),
  };
}
