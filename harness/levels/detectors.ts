// The detection oracle: every detector of a machine's level, asked in the guest at once,
// each answer turned into the level it means. They read different things, so they
// disagree exactly on the CPUs fleets have (a near miss, a masked flag, AVX state the
// OS did not enable):
// - cpuid: the CPU model itself, CPUID as glibc read it (`ld.so --list-diagnostics`);
// - cpuinfo: the kernel's flags in /proc/cpuinfo (what apt's "auto" reads);
// - modalias: the kernel's CPU modalias, which openSUSE's hwcaps patterns match;
// - glibc: the loader's glibc-hwcaps (CPUID, XCR0 and its own rules);
// - rpm: rpm's install arch (CPUID plus XCR0, `rpm --showrc`);
// - libzypp: zypper's system architecture (CPUID);
// - dnf5-arch, dnf5-basearch: dnf5's $arch and $basearch (uname);
// - apt-variants: the variants apt enables under APT::Architecture-Variants (the
//   image's "auto": the psABI varianttable against /proc/cpuinfo's flags);
// - apt-test-table: the same with apt's own test table (test/integration/varianttable),
//   whose v2 row lacks pni (SSE3);
// - pacman-arch: pacman's Architecture (`auto` is uname -m).
import type { GuestCommand } from '../drivers/driver.js';
import { levelFromCpuFlags, levelFromGlibcHelp, parseCpuinfoFlags } from './detect.js';
import { LEVELS, type CpuidBit, type Feature, type LevelName } from './table.js';

export const DETECTORS = ['cpuid', 'cpuinfo', 'modalias', 'glibc', 'rpm', 'libzypp', 'dnf5-arch', 'dnf5-basearch', 'apt-variants', 'apt-test-table', 'pacman-arch'] as const;
/** The detectors that are a package manager's own idea of the arch: facts show their answer in the tool's words. */
const TOOL_DETECTORS: readonly DetectorName[] = ['rpm', 'libzypp', 'dnf5-arch', 'dnf5-basearch', 'apt-variants', 'apt-test-table', 'pacman-arch'];
/** apt's own test table in the guest image (harness/image/guest/apt-test-varianttable). */
export const APT_TEST_VARIANTTABLE = '/usr/share/levelgate/apt-test-varianttable';
export type DetectorName = (typeof DETECTORS)[number];

export interface DetectorReading {
  readonly detector: DetectorName;
  /** What it answered, in its own words ("x86_64_v3", "x86-64-v3 x86-64-v2", a feature list...). */
  readonly answer: string;
  /** The level that answer means; null when the detector is absent or said nothing usable. */
  readonly level: LevelName | null;
  /** Why there is no level (the tool is not installed, printed nothing), or what it lacks for the next level. */
  readonly note?: string;
}

const SECTION = '=== levelgate-detector ';

/**
 * One guest command asking every detector in turn (a fixed script: nothing in it comes
 * from input). Each section starts with a marker line; a missing tool prints "absent".
 * `releasever`: dnf5 needs one to print its variables.
 */
export function detectionCommand(releasever = 'sid'): GuestCommand {
  const script = [
    `s() { echo "${SECTION}$1"; }`,
    'LDSO=/lib64/ld-linux-x86-64.so.2',
    's cpuid; "$LDSO" --list-diagnostics 2>/dev/null | grep -E "^x86\\.cpu_features\\.features\\[0x[012]\\]\\.cpuid\\[0x[0-3]\\]=" || echo absent',
    's cpuinfo; grep -m1 "^flags" /proc/cpuinfo || echo absent',
    's modalias; cat /sys/devices/system/cpu/modalias 2>/dev/null || echo absent',
    's glibc; "$LDSO" --help 2>/dev/null || echo absent',
    's rpm; if command -v rpm >/dev/null; then rpm --showrc | grep -m1 "^install arch"; else echo absent; fi',
    's libzypp; if command -v zypper >/dev/null; then zypper --non-interactive --no-refresh system-architecture 2>&1; else echo absent; fi',
    `s dnf5; if command -v dnf5 >/dev/null; then dnf5 --releasever=${releasever} --dump-variables 2>&1 | grep -E "^(arch|basearch) ="; else echo absent; fi`,
    // apt-get check builds no cache it does not need; Debug::Acquire::Variants prints what "auto" decided and why.
    's apt-variants; if command -v apt-get >/dev/null; then apt-get check -o Debug::Acquire::Variants=1 2>&1 | grep -E "^(variant auto:|Variants enabled:|W: Invalid value)"; else echo absent; fi',
    `s apt-test-table; if command -v apt-get >/dev/null; then apt-get check -o Debug::Acquire::Variants=1 -o APT::Architecture-Variants=auto -o Dir::dpkg::varianttable=${APT_TEST_VARIANTTABLE} 2>&1 | grep -E "^(variant auto:|Variants enabled:|W: Invalid value)"; else echo absent; fi`,
    's pacman-arch; if command -v pacman-conf >/dev/null; then pacman-conf Architecture 2>&1; else echo absent; fi',
    'true',
  ].join('\n');
  return { argv: ['sh', '-c', script] };
}

/** Splits the command's output into its sections. */
function sections(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = () => name !== undefined && out.set(name, lines.join('\n').trim());
  for (const line of stdout.split('\n')) {
    if (line.startsWith(SECTION)) {
      flush();
      name = line.slice(SECTION.length).trim();
      lines = [];
    } else lines.push(line);
  }
  flush();
  return out;
}

const FEATURES: readonly (Feature & { level: LevelName })[] = LEVELS.flatMap((l) => l.adds.map((f) => ({ ...f, level: l.name })));

/** The highest level whose every feature `has` (features without the evidence are not judged); what the next one lacks. */
export function levelOfFeatures(has: (f: Feature) => boolean | undefined): { level: LevelName | null; missing: string[] } {
  let level: LevelName | null = null;
  for (const l of LEVELS) {
    const missing = l.adds.filter((f) => has(f) === false).map((f) => f.psabi);
    if (missing.length) return { level, missing };
    level = l.name;
  }
  return { level, missing: [] };
}

/** The level an rpm arch name means ("x86_64_v3" → v3, "x86_64"/"amd64" → v1; Ubuntu's "amd64v3" → v3). */
export function levelOfArch(arch: string): LevelName | null {
  if (arch === 'x86_64' || arch === 'amd64') return 'v1';
  const variant = /^amd64(v[1-4])$/.exec(arch);
  if (variant) return variant[1] as LevelName;
  return LEVELS.find((l) => l.rpmArch === arch)?.name ?? null;
}

/** The highest level among arch words (apt's enabled variants, pacman's Architecture list); null when none names a level. */
function highestLevel(arches: readonly string[]): LevelName | null {
  const levels = arches.map(levelOfArch).filter((l): l is LevelName => l !== null);
  return levels.sort().at(-1) ?? null;
}

/**
 * apt's answer ("variant auto: amd64v3: missing: fma", "Variants enabled: amd64v2
 * amd64v1"): the highest variant enabled; none enabled is amd64 alone, v1. An invalid
 * setting is no answer.
 */
export function parseAptVariants(detector: DetectorName, text: string): DetectorReading {
  if (text === 'absent') return absent(detector, 'apt is not installed');
  const invalid = /^W: (Invalid value.*)$/m.exec(text)?.[1];
  if (invalid) return absent(detector, `apt: ${invalid}`);
  const enabled = /^Variants enabled:(.*)$/m.exec(text)?.[1];
  if (enabled === undefined) return absent(detector, `apt printed no variant list (${text.slice(0, 80)})`);
  const variants = enabled.trim().split(/\s+/).filter(Boolean);
  const missing = [...text.matchAll(/^variant auto: (\S+): missing: (.*)$/gm)].map((m) => `${m[1]} lacks ${m[2]!.trim()}`);
  const level = highestLevel(variants) ?? 'v1';
  const next = missing.find((m) => m.startsWith(`amd64v${Number(level.slice(1)) + 1} `));
  return reading(detector, variants.join(' ') || 'none (amd64 only)', level, next ?? (variants.length ? undefined : 'no variant enabled: amd64 only'));
}

/** pacman-conf's Architecture lines ("x86_64", or "x86_64" and "x86_64_v3"): the highest level listed. */
export function parsePacmanArch(text: string): DetectorReading {
  if (text === 'absent') return absent('pacman-arch', 'pacman is not installed');
  const arches = text.split('\n').map((l) => l.trim()).filter((l) => /^x86_64(?:_v[2-4])?$/.test(l));
  const level = highestLevel(arches);
  return level ? reading('pacman-arch', arches.join(' '), level) : absent('pacman-arch', `pacman-conf Architecture: ${text.slice(0, 80)}`);
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

/** The features in a CPU modalias ("cpu:type:x86,ven…:feature:,0000,0002,…,0125"), as Linux feature numbers. */
export function parseModalias(text: string): Set<number> | undefined {
  const m = /:feature:(.*)$/m.exec(text.trim());
  if (!m) return undefined;
  return new Set(m[1]!.split(',').filter(Boolean).map((h) => Number.parseInt(h, 16)));
}

const reading = (detector: DetectorName, answer: string, level: LevelName | null, note?: string): DetectorReading => ({ detector, answer, level, ...(note ? { note } : {}) });
const absent = (detector: DetectorName, why: string): DetectorReading => reading(detector, 'absent', null, why);

/** Every detector's answer, from the output of `detectionCommand`. */
export function parseDetection(stdout: string): DetectorReading[] {
  const parts = sections(stdout);
  const text = (name: string) => parts.get(name) ?? 'absent';
  const readings: DetectorReading[] = [];

  const cpuid = parseCpuidDiagnostics(text('cpuid'));
  if (!cpuid) readings.push(absent('cpuid', 'ld.so --list-diagnostics printed no CPUID words (glibc older than 2.33?)'));
  else {
    const { level, missing } = levelOfFeatures((f) => (f.cpuid ? cpuid(f.cpuid) : undefined));
    const present = FEATURES.filter((f) => f.cpuid && cpuid(f.cpuid)).map((f) => f.psabi);
    readings.push(reading('cpuid', present.join(' '), level, missing.length ? `lacks ${missing.join(' ')}` : undefined));
  }

  const flags = parseCpuinfoFlags(text('cpuinfo'));
  if (flags.size === 0) readings.push(absent('cpuinfo', 'no flags line in /proc/cpuinfo'));
  else {
    const cpu = levelFromCpuFlags(flags);
    readings.push(reading('cpuinfo', FEATURES.flatMap((f) => (f.cpuinfo && flags.has(f.cpuinfo) ? [f.cpuinfo] : [])).join(' '), cpu.level, cpu.missingForNext.length ? `lacks ${cpu.missingForNext.join(' ')}` : undefined));
  }

  const modalias = parseModalias(text('modalias'));
  if (!modalias) readings.push(absent('modalias', '/sys/devices/system/cpu/modalias is missing'));
  else {
    const { level, missing } = levelOfFeatures((f) => (f.linux === null ? undefined : modalias.has(f.linux)));
    const hex = FEATURES.flatMap((f) => (f.linux !== null && modalias.has(f.linux) ? [f.linux.toString(16).toUpperCase().padStart(4, '0')] : []));
    readings.push(reading('modalias', hex.join(','), level, missing.length ? `lacks ${missing.join(' ')}` : undefined));
  }

  const glibc = levelFromGlibcHelp(text('glibc'));
  readings.push(glibc ? reading('glibc', glibc.supported.join(' ') || 'baseline', glibc.level) : absent('glibc', 'ld.so --help printed no glibc-hwcaps section'));

  const rpmArch = /^install arch\s*:\s*(\S+)/m.exec(text('rpm'))?.[1];
  readings.push(rpmArch ? reading('rpm', rpmArch, levelOfArch(rpmArch)) : absent('rpm', text('rpm') === 'absent' ? 'rpm is not installed' : `rpm --showrc: no install arch (${text('rpm').slice(0, 80)})`));

  const zyppArch = /^(x86_64\S*)\s*$/m.exec(text('libzypp'))?.[1];
  readings.push(zyppArch ? reading('libzypp', zyppArch, levelOfArch(zyppArch)) : absent('libzypp', text('libzypp') === 'absent' ? 'zypper is not installed' : `zypper system-architecture: ${text('libzypp').slice(0, 80)}`));

  for (const variable of ['arch', 'basearch'] as const) {
    const detector: DetectorName = variable === 'arch' ? 'dnf5-arch' : 'dnf5-basearch';
    const value = new RegExp(`^${variable} = (\\S+)`, 'm').exec(text('dnf5'))?.[1];
    readings.push(value ? reading(detector, value, levelOfArch(value)) : absent(detector, text('dnf5') === 'absent' ? 'dnf5 is not installed' : `dnf5 --dump-variables printed no ${variable}`));
  }
  readings.push(parseAptVariants('apt-variants', text('apt-variants')), parseAptVariants('apt-test-table', text('apt-test-table')), parsePacmanArch(text('pacman-arch')));
  return readings;
}

/** One line for facts and messages: "cpuid v2, cpuinfo v2, glibc v2, rpm x86_64_v2, libzypp x86_64_v3 (…)". */
export function describeReadings(readings: readonly DetectorReading[]): string {
  return readings.map((r) => `${r.detector} ${r.level === null ? r.answer : TOOL_DETECTORS.includes(r.detector) ? r.answer : r.level}`).join(', ');
}

/** Asks every detector in a running guest (`exec` runs one command there). */
export async function askDetectors(exec: (argv: readonly string[], timeoutMs: number) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>, timeoutMs: number): Promise<DetectorReading[]> {
  const { argv } = detectionCommand();
  const result = await exec(argv, timeoutMs);
  if (result.exitCode !== 0) throw new Error(`the detectors could not be asked (exit ${result.exitCode}): ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
  return parseDetection(result.stdout);
}
