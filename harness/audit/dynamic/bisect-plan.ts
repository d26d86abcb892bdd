// What `audit --run bisect` runs: every program and library of the RPMs and loose ELF
// files audited, each with its commands (a program's --version, the loader for a
// library, or what --command gives), the RPM to install first, and the levels to try.
// Pure: the caller says which loose files are libraries and where the guest sees files.
import path from 'node:path';
import { LEVEL_NAMES, type LevelName } from '../../levels/table.js';
import { ALL_NEAR_MISSES, type CpuTarget } from '../../levels/targets.js';
import { parseNevra } from '../../packages/available.js';
import { UsageError } from '../../util/errors.js';
import type { PackageAudit } from '../types.js';

import { LIBRARY_NAME, type SubjectKind } from './elf-roles.js';

export type { SubjectKind };

export interface BisectSubject {
  readonly packageId: string;
  /** The file as the static audit names it (/usr/bin/x in an RPM; the host path of a loose file). */
  readonly path: string;
  /** The same file where the guest sees it (installed, or on the packages' disk). */
  readonly guestFile: string;
  readonly kind: SubjectKind;
  /** The RPM (host file) installed before it runs; undefined for a loose file. */
  readonly rpm?: { readonly file: string; readonly name: string };
  /** A loose file, carried to the guest on the packages' disk (host path). */
  readonly carry?: string;
  /** Argument arrays, run in the guest one after the other. */
  readonly commands: readonly (readonly string[])[];
}

export interface BisectRequest {
  /** The exact levels to try, lowest first (default v1..v4; v4 only for what did not run at v3). */
  readonly levels: readonly LevelName[];
  /** The near misses to try (in this order), each only for the subjects whose lowest level it is one feature short of: none, all of them (--near-misses), or those named (--near-miss). */
  readonly nearMisses: readonly CpuTarget[];
  /** Program basename or package name → commands instead of the default. */
  readonly commands: ReadonlyMap<string, readonly (readonly string[])[]>;
}

export interface BisectPlan {
  readonly subjects: readonly BisectSubject[];
  readonly skipped: readonly { readonly id: string; readonly why: string }[];
}

/** Where the guest sees things: a carried host file, and the loader. */
export interface GuestPlaces {
  readonly guestPath: (hostFile: string) => string;
  readonly loader: string;
}

const PROGRAM_DIRS = ['/usr/bin/', '/usr/sbin/', '/bin/', '/sbin/'];

/** The argv of a program's default run: its --version (most programs answer it and exit). */
const versionOf = (program: string): string[] => [program, '--version'];

/** --command NAME=ARGV for a loose program: its argv[0], when it is the program's name, becomes the path the guest sees. */
function userCommands(request: BisectRequest, names: readonly string[], program: string | undefined): string[][] | undefined {
  for (const name of names) {
    const given = request.commands.get(name);
    if (given) return given.map((argv) => (program && argv[0] === names[0] ? [program, ...argv.slice(1)] : [...argv]));
  }
  return undefined;
}

/** The subjects of every package that can run in a guest: RPMs and loose ELF files. */
export function planBisect(packages: readonly PackageAudit[], request: BisectRequest, roles: ReadonlyMap<string, SubjectKind>, places: GuestPlaces): BisectPlan {
  const subjects: BisectSubject[] = [];
  const skipped: { id: string; why: string }[] = [];
  const used = new Set<string>();
  for (const p of packages) {
    if (p.problem) {
      skipped.push({ id: p.id, why: `not run: ${p.problem}` });
      continue;
    }
    if (p.manager === 'rpm' && p.file) {
      const name = parseNevra(p.id)?.name ?? p.id;
      const rpm = { file: p.file, name };
      const audited = p.files.filter((f) => f.status === 'audited');
      for (const program of p.programs ?? []) {
        const base = path.posix.basename(program);
        const commands = userCommands(request, [base, name], undefined) ?? [versionOf(program)];
        for (const n of [base, name]) if (request.commands.has(n)) used.add(n);
        subjects.push({ packageId: p.id, path: program, guestFile: program, kind: 'program', rpm, commands });
      }
      for (const f of audited) {
        if (!LIBRARY_NAME.test(f.path) || PROGRAM_DIRS.some((d) => f.path.startsWith(d))) continue;
        subjects.push({ packageId: p.id, path: f.path, guestFile: f.path, kind: 'library', rpm, commands: [[places.loader, f.path]] });
      }
      if (!subjects.some((s) => s.packageId === p.id)) skipped.push({ id: p.id, why: 'not run: it ships no program in /usr/bin, /usr/sbin, /bin or /sbin and no library' });
      continue;
    }
    if (p.inputKind !== 'file' && p.inputKind !== 'directory') {
      skipped.push({ id: p.id, why: `not run: only RPMs and loose ELF files are run in a guest (this is from ${p.inputKind === 'image' ? 'a guest image' : 'an installed tree'})` });
      continue;
    }
    for (const f of p.files) {
      const role = roles.get(f.path);
      if (f.status !== 'audited' || !role) continue;
      const guest = places.guestPath(f.path);
      const base = path.basename(f.path);
      if (role === 'library') {
        subjects.push({ packageId: p.id, path: f.path, guestFile: guest, kind: 'library', carry: f.path, commands: [[places.loader, guest]] });
        continue;
      }
      const commands = userCommands(request, [base], guest) ?? [versionOf(guest)];
      if (request.commands.has(base)) used.add(base);
      subjects.push({ packageId: p.id, path: f.path, guestFile: guest, kind: 'program', carry: f.path, commands });
    }
  }
  const unused = [...request.commands.keys()].filter((n) => !used.has(n));
  if (unused.length) throw new UsageError(`--command: ${unused.map((n) => `'${n}'`).join(', ')} names no program or package of the inputs; known: ${[...new Set(subjects.filter((s) => s.kind === 'program').flatMap((s) => [path.basename(s.path), s.rpm?.name ?? []].flat()))].join(', ') || 'none'}`);
  return { subjects, skipped };
}

/** --levels LIST: exact levels, comma-separated, in any spelling; sorted lowest first. */
export function parseLevels(value: string | undefined): LevelName[] {
  if (value === undefined) return [...LEVEL_NAMES];
  const levels = value.split(',').map((v) => v.trim().toLowerCase().replace(/^x86[-_]64[-_]/, ''));
  const bad = levels.filter((l) => !(LEVEL_NAMES as readonly string[]).includes(l));
  if (bad.length || levels.length === 0) throw new UsageError(`--levels: '${bad.join(', ') || value}' is not a level; known: ${LEVEL_NAMES.join(', ')}`);
  return LEVEL_NAMES.filter((l) => levels.includes(l));
}

/**
 * --near-misses and --near-miss NAME[,NAME…]: none, every near miss, or those named (in
 * the order of the near-miss table). Naming some costs a guest each instead of all 23.
 */
export function parseNearMisses(all: boolean, named: readonly string[] | undefined): CpuTarget[] {
  const names = (named ?? []).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean);
  if (!names.length) return all ? [...ALL_NEAR_MISSES] : [];
  const bad = names.filter((n) => !ALL_NEAR_MISSES.some((t) => t.name === n));
  if (bad.length) throw new UsageError(`--near-miss: '${bad.join(', ')}' is not a near miss; known: ${ALL_NEAR_MISSES.map((t) => t.name).join(', ')}`);
  return ALL_NEAR_MISSES.filter((t) => names.includes(t.name));
}

/**
 * Batches of subjects that share one guest: each batch installs at most one RPM of a
 * name (two versions of one package, or packages that replace each other's files, get
 * guests of their own). Loose files go with the first batch.
 */
export function batches(subjects: readonly BisectSubject[]): BisectSubject[][] {
  const out: BisectSubject[][] = [];
  const slotOf = new Map<string, number>();
  const namesIn: Set<string>[] = [];
  for (const s of subjects) {
    let slot = 0;
    if (s.rpm) {
      const known = slotOf.get(s.rpm.file);
      if (known !== undefined) slot = known;
      else {
        while (namesIn[slot]?.has(s.rpm.name)) slot++;
        slotOf.set(s.rpm.file, slot);
        (namesIn[slot] ??= new Set()).add(s.rpm.name);
      }
    }
    (out[slot] ??= []).push(s);
  }
  return out.filter(Boolean);
}
