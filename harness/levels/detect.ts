// Computes the level a guest sees from what it reports: cpuinfo flags and glibc hwcaps.
import { LEVELS, LEVEL_NAMES, featuresAbove, type CpuidBit, type LevelName } from './table.js';

export interface CpuinfoReading {
  /** Highest level whose features are all present, null when even v1 is incomplete. */
  readonly level: LevelName | null;
  /** Features of the next level up that are missing (what stops it from being higher). */
  readonly missingForNext: readonly string[];
  /** Flags of levels above `level` that are present anyway: the pin is not exact. */
  readonly stray: readonly string[];
}

/** Parses the first `flags` line of /proc/cpuinfo into a set of flags. */
export function parseCpuinfoFlags(cpuinfo: string): Set<string> {
  const line = cpuinfo.split('\n').find((l) => /^flags\s*:/.test(l));
  if (!line) return new Set();
  return new Set(line.replace(/^flags\s*:/, '').trim().split(/\s+/).filter(Boolean));
}

export function levelFromCpuFlags(flags: ReadonlySet<string>): CpuinfoReading {
  let level: LevelName | null = null;
  let missingForNext: string[] = [];
  for (const l of LEVELS) {
    const missing = l.adds.flatMap((f) => (f.cpuinfo && !flags.has(f.cpuinfo) ? [f.cpuinfo] : []));
    if (missing.length > 0) {
      missingForNext = missing;
      break;
    }
    level = l.name;
  }
  const above = level ? featuresAbove(level) : LEVELS.flatMap((l) => l.adds);
  const stray = above.flatMap((f) => (f.cpuinfo && flags.has(f.cpuinfo) ? [f.cpuinfo] : []));
  return { level, missingForNext, stray };
}

export interface GlibcReading {
  /** The highest level glibc's loader reports as supported; v1 when none is. */
  readonly level: LevelName;
  /** The hwcaps subdirectories glibc reports as supported, e.g. ["x86-64-v3", "x86-64-v2"]. */
  readonly supported: readonly string[];
}

/**
 * Parses `ld.so --help` (glibc >= 2.33), whose hwcaps section reads:
 *   Subdirectories of glibc-hwcaps directories, in priority order:
 *     x86-64-v4
 *     x86-64-v3 (supported, searched)
 * Returns undefined when the output has no such section (an older glibc).
 */
export function levelFromGlibcHelp(output: string): GlibcReading | undefined {
  const start = output.indexOf('Subdirectories of glibc-hwcaps directories');
  if (start < 0) return undefined;
  const supported: string[] = [];
  for (const line of output.slice(start).split('\n').slice(1)) {
    const m = /^\s+(x86-64-v[2-4])\s*(\(([^)]*)\))?\s*$/.exec(line);
    if (!m) {
      if (line.trim() === '') continue;
      break;
    }
    if (m[3]?.split(',').map((s) => s.trim()).includes('supported')) supported.push(m[1]!);
  }
  let level: LevelName = 'v1';
  for (const name of LEVEL_NAMES) {
    const hwcaps = LEVELS.find((l) => l.name === name)!.hwcaps;
    if (hwcaps && supported.includes(hwcaps)) level = name;
  }
  return { level, supported };
}

/** CPUID words as glibc prints them: features[0x0] is leaf 1, [0x1] leaf 7, [0x2] leaf 0x80000001; cpuid[0..3] are eax..edx. */
export function parseCpuidDiagnostics(text: string): ((bit: CpuidBit) => boolean) | undefined {
  const words = new Map<string, number>();
  for (const m of text.matchAll(/features\[0x([0-9a-f]+)\]\.cpuid\[0x([0-3])\]=0x([0-9a-f]+)/g)) words.set(`${m[1]}/${m[2]}`, Number.parseInt(m[3]!, 16));
  if (words.size === 0) return undefined;
  const index = { 1: '0', 7: '1', [0x80000001]: '2' } as const;
  const reg = { eax: '0', ebx: '1', ecx: '2', edx: '3' } as const;
  return (b) => (((words.get(`${index[b.leaf]}/${reg[b.reg]}`) ?? 0) >>> b.bit) & 1) === 1;
}
