// What a generated compose holds, decided from its parameters alone (pure, seeded): N
// packages with dependency chains, provides, subpackages, noarch data and libraries, a
// share of names shipping level variants in the catalog's patterns, two releases (N and
// N+1), and planted defects the generator knows by name so tests can check they are found.
import type { LevelName } from '../levels/table.js';

/** The variant shapes of the catalog a healthy compose ships. */
export const VARIANT_PATTERNS = ['all-levels', 'v3-only', 'v3-baseline-subpackage', 'hwcaps-library'] as const;
export type VariantPattern = (typeof VARIANT_PATTERNS)[number];

/**
 * The defects a compose can carry, each a shape the catalog tests: a v3 build labelled
 * x86_64, a v3 variant lagging the baseline (release N+1), a library's v3 copy in the
 * x86-64-v2 glibc-hwcaps directory, a dependency nothing provides, a v3 variant the
 * solver cannot reach (its own dependency is missing, so x86_64 is taken on v3 CPUs).
 */
export const DEFECT_KINDS = ['mislabelled', 'lagging', 'wrong-hwcaps-dir', 'broken-dependency', 'unreachable-v3'] as const;
export type DefectKind = (typeof DEFECT_KINDS)[number];

export interface ComposeParams {
  /** Packages per release (every build of every name counts once per arch). */
  readonly packages: number;
  /** Share of names (0..1) that ship level variants. */
  readonly variantShare: number;
  readonly seed: number;
  /** Defects to plant, one name each. */
  readonly defects: readonly DefectKind[];
}

export const DEFAULT_PARAMS: ComposeParams = { packages: 1000, variantShare: 0.3, seed: 1, defects: [...DEFECT_KINDS] };

/** What a package's files prove when run: a program or a library copy built for a level. */
export type Payload =
  | { readonly kind: 'program'; readonly level: LevelName }
  | { readonly kind: 'library'; readonly soname: string; readonly copies: readonly LibraryCopy[] }
  | { readonly kind: 'data' };

export interface LibraryCopy {
  /** '' for the library directory itself, else the glibc-hwcaps subdirectory ("x86-64-v3"). */
  readonly hwcaps: string;
  /** The level the copy's code is compiled for. */
  readonly level: LevelName;
}

export interface ComposeBuild {
  readonly name: string;
  readonly version: string;
  readonly release: string;
  readonly arch: string;
  readonly payload: Payload;
  readonly requires: readonly string[];
  readonly provides: readonly string[];
}

export interface ComposeName {
  readonly name: string;
  /** The variant pattern, or 'plain' (one arch). */
  readonly pattern: VariantPattern | 'plain';
  readonly defect?: DefectKind;
}

export interface ComposeModel {
  readonly params: ComposeParams;
  readonly names: readonly ComposeName[];
  /** Release "1" (N) and "2" (N+1). */
  readonly releases: Readonly<Record<ReleaseName, readonly ComposeBuild[]>>;
}

export const RELEASES = ['1', '2'] as const;
export type ReleaseName = (typeof RELEASES)[number];

/** mulberry32: a tiny seeded PRNG, so one seed is one compose everywhere. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const libSoname = (name: string): string => `${name.startsWith('lib') ? '' : 'lib'}${name}.so.1`;
const sonameCap = (soname: string): string => `${soname}()(64bit)`;

/** One name's builds in one release, before dependencies on other names. */
interface Shape {
  readonly builds: (version: string) => Omit<ComposeBuild, 'release' | 'requires' | 'provides'>[];
  /** Builds per release (what the packages budget counts). */
  readonly size: number;
}

const program = (level: LevelName): Payload => ({ kind: 'program', level });
const variantBuilds = (name: string, version: string, arches: readonly [string, LevelName][]) => arches.map(([arch, level]) => ({ name, version, arch, payload: program(level) }));
const ALL: [string, LevelName][] = [['x86_64', 'v1'], ['x86_64_v2', 'v2'], ['x86_64_v3', 'v3'], ['x86_64_v4', 'v4']];
const V3: [string, LevelName][] = [['x86_64', 'v1'], ['x86_64_v3', 'v3']];

/** The glibc-hwcaps copies a library of the pattern ships (the defect puts v3 code in the v2 directory). */
function hwcapsCopies(rand: () => number, defect: boolean): LibraryCopy[] {
  if (defect) return [{ hwcaps: '', level: 'v1' }, { hwcaps: 'x86-64-v2', level: 'v3' }];
  const copies: LibraryCopy[] = [{ hwcaps: '', level: 'v1' }, { hwcaps: 'x86-64-v3', level: 'v3' }];
  if (rand() < 0.5) copies.push({ hwcaps: 'x86-64-v2', level: 'v2' });
  if (rand() < 0.3) copies.push({ hwcaps: 'x86-64-v4', level: 'v4' });
  return copies;
}

/** Every name and its builds in both releases. */
export function composeModel(params: ComposeParams): ComposeModel {
  if (!Number.isInteger(params.packages) || params.packages < 20) throw new RangeError(`packages: ${params.packages} is too few for a compose (at least 20)`);
  if (!(params.variantShare >= 0 && params.variantShare <= 1)) throw new RangeError(`variantShare: ${params.variantShare} is not between 0 and 1`);
  const rand = random(params.seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const names: ComposeName[] = [];
  // name → shape, its base version, whether N+1 bumps it, its extra dependencies.
  const entries: { name: ComposeName; shape: Shape; version: [string, string]; requires: string[]; provides: string[] }[] = [];
  let budget = params.packages;
  let index = 0;
  const defects = [...params.defects];
  const libraries: string[] = [];
  const plainNames: string[] = [];

  const nextName = (prefix: string) => `lgc-${prefix}${String(index++).padStart(5, '0')}`;
  const versions = (): [string, string] => {
    const base = `${1 + Math.floor(rand() * 4)}.${Math.floor(rand() * 20)}`;
    return [base, rand() < 0.3 ? `${base}.1` : base];
  };

  while (budget > 0) {
    // Defects land at seeded places among the names, every one of them before the budget runs out.
    const defect = defects.length > 0 && rand() < Math.min(1, (defects.length * 4) / budget) ? defects.shift() : undefined;
    const variant = defect !== undefined || rand() < params.variantShare;
    if (variant) {
      const pattern: VariantPattern = defect === 'wrong-hwcaps-dir' ? 'hwcaps-library' : defect === 'broken-dependency' ? 'all-levels' : defect ? 'v3-only' : pick(VARIANT_PATTERNS);
      const name = pattern === 'hwcaps-library' ? `liblgc${String(index++).padStart(5, '0')}` : nextName('v');
      const entry: ComposeName = { name, pattern, ...(defect ? { defect } : {}) };
      names.push(entry);
      let shape: Shape;
      switch (pattern) {
        case 'all-levels':
          shape = { size: 4, builds: (v) => variantBuilds(name, v, ALL) };
          break;
        case 'v3-only':
          // The mislabelled defect: its x86_64 build holds v3 code (RHEL 10's way, without the label).
          shape = { size: 2, builds: (v) => variantBuilds(name, v, V3).map((b) => (defect === 'mislabelled' && b.arch === 'x86_64' ? { ...b, payload: program('v3') } : b)) };
          break;
        case 'v3-baseline-subpackage':
          // NAME in x86_64 and v3; NAME-common only in x86_64, which NAME requires at its own version.
          shape = { size: 3, builds: (v) => [...variantBuilds(name, v, V3), { name: `${name}-common`, version: v, arch: 'x86_64', payload: program('v1') }] };
          break;
        case 'hwcaps-library': {
          const copies = hwcapsCopies(rand, defect === 'wrong-hwcaps-dir');
          shape = { size: 1, builds: (v) => [{ name, version: v, arch: 'x86_64', payload: { kind: 'library', soname: libSoname(name), copies } }] };
          libraries.push(name);
          break;
        }
      }
      const version = versions();
      entries.push({ name: entry, shape, version: defect === 'lagging' ? [version[0], `${version[0]}.1`] : version, requires: [], provides: [] });
      budget -= shape.size;
      continue;
    }
    // Plain packages: programs (some with a noarch -data subpackage), libraries, noarch data.
    const roll = rand();
    const kind = roll < 0.5 ? 'program' : roll < 0.7 ? 'library' : 'data';
    const name = kind === 'library' ? `liblgc${String(index++).padStart(5, '0')}` : nextName(kind === 'program' ? 'p' : 'd');
    const entry: ComposeName = { name, pattern: 'plain' };
    names.push(entry);
    const withData = kind === 'program' && rand() < 0.3;
    const shape: Shape =
      kind === 'library'
        ? { size: 1, builds: (v) => [{ name, version: v, arch: 'x86_64', payload: { kind: 'library', soname: libSoname(name), copies: [{ hwcaps: '', level: 'v1' }] } }] }
        : kind === 'data'
          ? { size: 1, builds: (v) => [{ name, version: v, arch: 'noarch', payload: { kind: 'data' } }] }
          : { size: withData ? 2 : 1, builds: (v) => [{ name, version: v, arch: 'x86_64', payload: program('v1') }, ...(withData ? [{ name: `${name}-data`, version: v, arch: 'noarch', payload: { kind: 'data' } as const }] : [])] };
    if (kind === 'library') libraries.push(name);
    else plainNames.push(name);
    entries.push({ name: entry, shape, version: versions(), requires: [], provides: [`lgc-cap(${name})`] });
    budget -= shape.size;
  }

  // Dependencies: programs need earlier plain packages (chains) and libraries; every variant name needs one plain package.
  for (const entry of entries) {
    const isProgram = entry.name.pattern !== 'hwcaps-library' && !entry.name.name.startsWith('liblgc') && !entry.name.name.startsWith('lgc-d');
    if (!isProgram) continue;
    const earlier = plainNames.filter((n) => n < entry.name.name);
    if (earlier.length && rand() < 0.6) entry.requires.push(`lgc-cap(${pick(earlier)})`);
    if (libraries.length && rand() < 0.4) {
      const lib = pick(libraries);
      if (lib !== entry.name.name) entry.requires.push(sonameCap(libSoname(lib)));
    }
  }

  const releases = Object.fromEntries(
    RELEASES.map((release, r) => {
      const builds: ComposeBuild[] = [];
      for (const entry of entries) {
        const { defect, pattern } = entry.name;
        for (const build of entry.shape.builds(entry.version[r]!)) {
          // The lagging defect: in N+1 the baseline moves on and the v3 build stays at N's version.
          const version = defect === 'lagging' && build.arch === 'x86_64_v3' ? entry.version[0] : build.version;
          const main = build.name === entry.name.name;
          // Subpackages (-data, -common) carry no dependencies of their own.
          const requires = main ? [...entry.requires] : [];
          const provides = main ? [...entry.provides] : [];
          if (build.payload.kind === 'library') provides.push(sonameCap(build.payload.soname));
          if (main && pattern === 'v3-baseline-subpackage') requires.push(`${build.name}-common = ${version}-${release}`);
          if (main && pattern === 'plain' && entry.shape.size === 2) requires.push(`${build.name}-data = ${version}-${release}`);
          if (defect === 'broken-dependency') requires.push(`lgc-missing-capability(${entry.name.name})`);
          if (defect === 'unreachable-v3' && build.arch === 'x86_64_v3') requires.push('lgc-missing-v3-runtime');
          builds.push({ ...build, version, release, requires, provides });
        }
      }
      return [release, builds];
    }),
  ) as Record<ReleaseName, ComposeBuild[]>;
  return { params, names, releases };
}

/** The names that ship level variants (what the audit judges), and the defects, by name. */
export const variantNames = (model: ComposeModel): ComposeName[] => model.names.filter((n) => n.pattern !== 'plain');
export const plantedDefects = (model: ComposeModel): Map<string, DefectKind> => new Map(model.names.flatMap((n) => (n.defect ? [[n.name, n.defect] as const] : [])));
