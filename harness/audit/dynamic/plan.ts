// Which packages `audit --run` runs, on which CPU, and what it runs of each: every RPM
// of an x86-64 arch (or noarch), at the CPU asked for or at the lowest level its arch
// claims; its programs with --version, or the commands --command gives for it. Pure.
import { archLevel } from '../../levels/arch.js';
import { levelIndex } from '../../levels/table.js';
import { exactTarget, type CpuTarget } from '../../levels/targets.js';
import { parseNevra } from '../../packages/available.js';
import { UsageError } from '../../util/errors.js';
import type { PackageAudit } from '../types.js';

/** What --run and --command asked for. */
export interface RunRequest {
  /** One CPU for every package, or 'auto': each package at the lowest level its arch claims. */
  readonly target: CpuTarget | 'auto';
  /** Package name → the commands to run instead of its programs' --version. */
  readonly commands: ReadonlyMap<string, readonly (readonly string[])[]>;
}

export interface PackageRunPlan {
  readonly id: string;
  /** The package file on the host. */
  readonly file: string;
  readonly target: CpuTarget;
  /** Argument arrays, each run in the guest after the install. */
  readonly commands: readonly (readonly string[])[];
}

export interface RunPlan {
  /** By CPU target, lowest level first: one guest (snapshot) serves each group. */
  readonly groups: readonly { readonly target: CpuTarget; readonly packages: readonly PackageRunPlan[] }[];
  /** Packages that are not run, with why. */
  readonly skipped: readonly { readonly id: string; readonly why: string }[];
}

/** The CPU a package runs on by default: the lowest its arch claims (x86_64 → v1, x86_64_v3 → v3, noarch → v1); undefined for another family. */
export function defaultTarget(arch: string): CpuTarget | undefined {
  const level = archLevel(arch);
  if (level === undefined) return undefined;
  return exactTarget(level ?? 'v1');
}

/** The default commands: each program it ships, with --version (most programs answer it and exit). */
export const versionCommands = (programs: readonly string[]): string[][] => programs.map((p) => [p, '--version']);

export function planRuns(packages: readonly PackageAudit[], request: RunRequest): RunPlan {
  const groups = new Map<string, { target: CpuTarget; packages: PackageRunPlan[] }>();
  const skipped: { id: string; why: string }[] = [];
  for (const p of packages) {
    if (p.manager !== 'rpm' || !p.file) {
      skipped.push({ id: p.id, why: 'not run: only RPM packages are installed in a guest' });
      continue;
    }
    if (p.problem || p.arch === undefined) {
      skipped.push({ id: p.id, why: `not run: ${p.problem ?? 'its arch is unknown'}` });
      continue;
    }
    const target = request.target === 'auto' ? defaultTarget(p.arch) : request.target;
    if (!target || archLevel(p.arch) === undefined) {
      skipped.push({ id: p.id, why: `not run: ${p.arch} is not an x86-64 arch` });
      continue;
    }
    const name = parseNevra(p.id)?.name ?? p.id;
    const commands = request.commands.get(name) ?? versionCommands(p.programs ?? []);
    let group = groups.get(target.name);
    if (!group) groups.set(target.name, (group = { target, packages: [] }));
    group.packages.push({ id: p.id, file: p.file, target, commands });
  }
  const ordered = [...groups.values()].sort((a, b) => levelIndex(a.target.level) - levelIndex(b.target.level) || a.target.name.localeCompare(b.target.name));
  return { groups: ordered, skipped };
}

/**
 * --command NAME=ARGV: the package NAME runs ARGV instead of its programs' --version.
 * ARGV is a JSON array of strings, or words split at white space (no quoting: use the
 * JSON form for an argument with spaces). It is run as an argument array, never by a shell.
 */
export function parseCommandFlag(value: string, flag = '--command'): { name: string; argv: string[] } {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag}: '${value}' is not NAME=ARGV (e.g. ${flag} 'openssl=openssl speed -seconds 1 sha256')`);
  const name = value.slice(0, eq);
  const rest = value.slice(eq + 1).trim();
  let argv: unknown;
  if (rest.startsWith('[')) {
    try {
      argv = JSON.parse(rest);
    } catch (error) {
      throw new UsageError(`${flag} ${name}: '${rest}' is not a JSON array of strings (${(error as Error).message})`);
    }
  } else argv = rest.split(/\s+/).filter(Boolean);
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new UsageError(`${flag} ${name}: give the command to run, as words or a JSON array of strings (e.g. ${flag} '${name}=["${name}", "--help"]')`);
  }
  return { name, argv: argv as string[] };
}

/** Every --command, by package name (a name given twice runs both commands). */
export function commandsByPackage(values: readonly string[]): Map<string, string[][]> {
  const byName = new Map<string, string[][]>();
  for (const value of values) {
    const { name, argv } = parseCommandFlag(value);
    byName.set(name, [...(byName.get(name) ?? []), argv]);
  }
  return byName;
}
