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

/**
 * The benchmark's share (bench/compose.ts's default): with seed 1 and every defect, the
 * 10,000-package compose has exactly 3,000 multi-variant names (the target row;
 * 10,003 packages a release), the 1,000-package one 302. A share is a per-name draw, so
 * the count moves in steps: 0.585 gives 2,999, 0.5856 gives 3,001.
 */
export const BENCH_VARIANT_SHARE = 0.5855;

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

/** One name being generated: its shape, versions in N and N+1, and dependencies on other names. */
interface Entry {
  readonly name: ComposeName;
  readonly shape: Shape;
  readonly version: readonly [string, string];
  readonly requires: string[];
  readonly provides: string[];
}

/** The seeded generator's state while names are drawn: the random stream and the names so far. */
interface Draw {
  readonly rand: () => number;
  readonly pick: <T>(list: readonly T[]) => T;
  /** The next name index (names are numbered in draw order). */
  index: number;
  readonly libraries: string[];
  readonly plainNames: string[];
}

const numbered = (draw: Draw, prefix: string): string => `${prefix}${String(draw.index++).padStart(5, '0')}`;

/** A base version, and N+1's: bumped for about a third of the names. */
function drawVersions({ rand }: Draw): [string, string] {
  const base = `${1 + Math.floor(rand() * 4)}.${Math.floor(rand() * 20)}`;
  return [base, rand() < 0.3 ? `${base}.1` : base];
}

/** A name's builds in one of the catalog's variant patterns; a defect decides its pattern and bends its builds. */
function variantEntry(draw: Draw, defect: DefectKind | undefined): Entry {
  const pattern: VariantPattern = defect === 'wrong-hwcaps-dir' ? 'hwcaps-library' : defect === 'broken-dependency' ? 'all-levels' : defect ? 'v3-only' : draw.pick(VARIANT_PATTERNS);
  const name = pattern === 'hwcaps-library' ? numbered(draw, 'liblgc') : numbered(draw, 'lgc-v');
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
      const copies = hwcapsCopies(draw.rand, defect === 'wrong-hwcaps-dir');
      shape = { size: 1, builds: (v) => [{ name, version: v, arch: 'x86_64', payload: { kind: 'library', soname: libSoname(name), copies } }] };
      draw.libraries.push(name);
      break;
    }
  }
  const version = drawVersions(draw);
  return { name: { name, pattern, ...(defect ? { defect } : {}) }, shape, version: defect === 'lagging' ? [version[0], `${version[0]}.1`] : version, requires: [], provides: [] };
}

/** A plain name: a program (some with a noarch -data subpackage), a library or noarch data. */
function plainEntry(draw: Draw): Entry {
  const roll = draw.rand();
  const kind = roll < 0.5 ? 'program' : roll < 0.7 ? 'library' : 'data';
  const name = kind === 'library' ? numbered(draw, 'liblgc') : numbered(draw, kind === 'program' ? 'lgc-p' : 'lgc-d');
  const withData = kind === 'program' && draw.rand() < 0.3;
  const shape: Shape =
    kind === 'library'
      ? { size: 1, builds: (v) => [{ name, version: v, arch: 'x86_64', payload: { kind: 'library', soname: libSoname(name), copies: [{ hwcaps: '', level: 'v1' }] } }] }
      : kind === 'data'
        ? { size: 1, builds: (v) => [{ name, version: v, arch: 'noarch', payload: { kind: 'data' } }] }
        : { size: withData ? 2 : 1, builds: (v) => [{ name, version: v, arch: 'x86_64', payload: program('v1') }, ...(withData ? [{ name: `${name}-data`, version: v, arch: 'noarch', payload: { kind: 'data' } as const }] : [])] };
  if (kind === 'library') draw.libraries.push(name);
  else draw.plainNames.push(name);
  return { name: { name, pattern: 'plain' }, shape, version: drawVersions(draw), requires: [], provides: [`lgc-cap(${name})`] };
}

/** Names until the packages budget is spent; every defect lands at a seeded place before it runs out. */
function drawEntries(params: ComposeParams, draw: Draw): Entry[] {
  const entries: Entry[] = [];
  const defects = [...params.defects];
  let budget = params.packages;
  while (budget > 0) {
    const defect = defects.length > 0 && draw.rand() < Math.min(1, (defects.length * 4) / budget) ? defects.shift() : undefined;
    const entry = defect !== undefined || draw.rand() < params.variantShare ? variantEntry(draw, defect) : plainEntry(draw);
    entries.push(entry);
    budget -= entry.shape.size;
  }
  return entries;
}

/** Dependencies: programs need earlier plain packages (chains) and libraries. */
function linkDependencies(entries: readonly Entry[], draw: Draw): void {
  for (const entry of entries) {
    const isProgram = entry.name.pattern !== 'hwcaps-library' && !entry.name.name.startsWith('liblgc') && !entry.name.name.startsWith('lgc-d');
    if (!isProgram) continue;
    const earlier = draw.plainNames.filter((n) => n < entry.name.name);
    if (earlier.length && draw.rand() < 0.6) entry.requires.push(`lgc-cap(${draw.pick(earlier)})`);
    if (draw.libraries.length && draw.rand() < 0.4) {
      const lib = draw.pick(draw.libraries);
      if (lib !== entry.name.name) entry.requires.push(sonameCap(libSoname(lib)));
    }
  }
}

/** Every build of one release (index r of RELEASES), with its dependencies and the defects' bends. */
function releaseBuilds(entries: readonly Entry[], release: ReleaseName, r: number): ComposeBuild[] {
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
  return builds;
}

/** Every name and its builds in both releases. */
export function composeModel(params: ComposeParams): ComposeModel {
  if (!Number.isInteger(params.packages) || params.packages < 20) throw new RangeError(`packages: ${params.packages} is too few for a compose (at least 20)`);
  if (!(params.variantShare >= 0 && params.variantShare <= 1)) throw new RangeError(`variantShare: ${params.variantShare} is not between 0 and 1`);
  const rand = random(params.seed);
  const draw: Draw = { rand, pick: (list) => list[Math.floor(rand() * list.length)]!, index: 0, libraries: [], plainNames: [] };
  const entries = drawEntries(params, draw);
  linkDependencies(entries, draw);
  const releases = Object.fromEntries(RELEASES.map((release, r) => [release, releaseBuilds(entries, release, r)])) as Record<ReleaseName, ComposeBuild[]>;
  return { params, names: entries.map((e) => e.name), releases };
}

/** The names that ship level variants (what the audit judges), and the defects, by name. */
export const variantNames = (model: ComposeModel): ComposeName[] => model.names.filter((n) => n.pattern !== 'plain');
export const plantedDefects = (model: ComposeModel): Map<string, DefectKind> => new Map(model.names.flatMap((n) => (n.defect ? [[n.name, n.defect] as const] : [])));
