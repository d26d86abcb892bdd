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
import type { GuestCommand } from '../model/guest.js';
import type { DriverName } from '../model/package-manager.js';
import { levelFromCpuFlags, levelFromGlibcHelp, parseCpuidDiagnostics, parseCpuinfoFlags } from '../levels/detect.js';
import { LEVELS, type Feature, type LevelName } from '../levels/table.js';
import { signalName } from '../util/signals.js';

export const DETECTORS = ['cpuid', 'cpuinfo', 'modalias', 'glibc', 'rpm', 'libzypp', 'dnf5-arch', 'dnf5-basearch', 'apt-variants', 'apt-test-table', 'pacman-arch'] as const;
/** apt's own test table in the guest image (harness/image/guest/apt-test-varianttable). */
export const APT_TEST_VARIANTTABLE = '/usr/share/levelgate/apt-test-varianttable';
/** Where dpkg and apt read the variant table (the guest image installs the psABI one there). */
export const APT_VARIANTTABLE = '/usr/share/dpkg/varianttable';
export type DetectorName = (typeof DETECTORS)[number];

/** The detectors that read the CPU or the kernel's view of it: program starts of a few milliseconds each. */
const CPU_DETECTORS: readonly DetectorName[] = ['cpuid', 'cpuinfo', 'modalias', 'glibc'];
/**
 * The tools whose idea of the arch a driver's transactions follow: rpm's install arch
 * under every rpm-based driver (librpm installs the packages), plus the driver's own.
 */
const DRIVER_TOOL_DETECTORS: Readonly<Record<DriverName, readonly DetectorName[]>> = {
  dnf5: ['rpm', 'dnf5-arch', 'dnf5-basearch'],
  zypper: ['rpm', 'libzypp'],
  rpm: ['rpm'],
  apt: ['apt-variants'],
  pacman: ['pacman-arch'],
};

/**
 * The detectors a cell's facts record, asked live in its first guest: every one when the
 * scenario asks the detectors itself (detect()), else the CPU's and the cell's tools'
 * (the other tools' starts are most of the detection's time, and nothing of the cell
 * depends on them). In DETECTORS order.
 */
export function factDetectors(driver: DriverName, detects: boolean): readonly DetectorName[] {
  if (detects) return DETECTORS;
  const wanted = new Set([...CPU_DETECTORS, ...DRIVER_TOOL_DETECTORS[driver]]);
  return DETECTORS.filter((d) => wanted.has(d));
}

export interface DetectorReading {
  readonly detector: DetectorName;
  /** What it answered, in its own words ("x86_64_v3", "x86-64-v3 x86-64-v2", a feature list...); "absent" when the tool is not there. */
  readonly answer: string;
  /** The level that answer means; null when the detector is absent or failed. */
  readonly level: LevelName | null;
  /** Why there is no level (the tool is not installed), or what it lacks for the next level. */
  readonly note?: string;
  /**
   * The detector ran and cannot be believed: it exited non-zero or died of a signal,
   * printed no answer, or answered an arch the level table does not know. Names its
   * exit status and output. (Absent from readings recorded before detectors were judged.)
   */
  readonly failure?: string;
}

const SECTION = '=== levelgate-detector ';
const EXIT = '=== levelgate-exit ';

/**
 * One guest command asking every detector in turn (a fixed script: nothing in it comes
 * from input). Each section starts with a marker line and ends with the tool's exit
 * status ("absent": the tool or file is not there); between them the lines of its
 * output the parser reads, or its last lines when none match (an error message).
 * `releasever`: dnf5 needs one to print its variables.
 */
export function detectionCommand(releasever = 'sid', only: readonly DetectorName[] = DETECTORS): GuestCommand {
  // The sections asked: a section answers one detector, but dnf5's answers two.
  const asks = (section: string) => only.some((d) => sectionOf(d) === section);
  const script = [
    `s() { echo "${SECTION}$1"; }`,
    `x() { echo "${EXIT}$1"; }`,
    // t TOOL FILTER COMMAND...: runs it with its output captured, prints the lines FILTER selects (else its last lines), then its exit status.
    't() { tool=$1; re=$2; shift 2; if [ ! -x "$tool" ] && ! command -v "$tool" >/dev/null 2>&1; then x absent; return; fi; out=$("$@" 2>&1); st=$?; printf "%s\\n" "$out" | grep -E -- "$re" || printf "%s\\n" "$out" | tail -n 5; x "$st"; }',
    // f FILE FILTER: the same for a file the kernel provides.
    'f() { if [ ! -e "$1" ]; then x absent; return; fi; t cat "$2" cat "$1"; }',
    'LDSO=/lib64/ld-linux-x86-64.so.2',
    asks('cpuid') && 's cpuid; t "$LDSO" "^x86\\.cpu_features\\.features\\[0x[012]\\]\\.cpuid\\[0x[0-3]\\]=" "$LDSO" --list-diagnostics',
    asks('cpuinfo') && 's cpuinfo; f /proc/cpuinfo "^flags"',
    asks('modalias') && 's modalias; f /sys/devices/system/cpu/modalias ""',
    asks('glibc') && 's glibc; t "$LDSO" "" "$LDSO" --help',
    asks('rpm') && 's rpm; t rpm "^install arch" rpm --showrc',
    asks('libzypp') && 's libzypp; t zypper "" zypper --non-interactive --no-refresh system-architecture',
    asks('dnf5') && `s dnf5; t dnf5 "^(arch|basearch) =" dnf5 --releasever=${releasever} --dump-variables`,
    // apt-get check builds no cache it does not need; Debug::Acquire::Variants prints what "auto" decided and why.
    // n FILE REASON: when FILE is not there the detector cannot answer here: says why and exits 0; else exits 1.
    'n() { if [ -e "$1" ]; then return 1; fi; echo "$2"; x absent; }',
    // apt's "auto" reads the varianttable against the CPU; an image without one (Debian's dpkg ships none) has no level detection to ask.
    asks('apt-variants') && `s apt-variants; command -v apt-get >/dev/null 2>&1 && n ${APT_VARIANTTABLE} "this image has no ${APT_VARIANTTABLE} (Debian's dpkg ships none): apt's variants cannot see the CPU here" || t apt-get "^(variant auto:|Variants enabled:|W: Invalid value)" apt-get check -o Debug::Acquire::Variants=1`,
    asks('apt-test-table') && `s apt-test-table; command -v apt-get >/dev/null 2>&1 && n ${APT_TEST_VARIANTTABLE} "this image has no copy of apt's test varianttable (levelgate's guest image has)" || t apt-get "^(variant auto:|Variants enabled:|W: Invalid value)" apt-get check -o Debug::Acquire::Variants=1 -o APT::Architecture-Variants=auto -o Dir::dpkg::varianttable=${APT_TEST_VARIANTTABLE}`,
    asks('pacman-arch') && 's pacman-arch; t pacman-conf "" pacman-conf Architecture',
    'true',
  ]
    .filter((line): line is string => line !== false)
    .join('\n');
  return { argv: ['sh', '-c', script] };
}

/** The script section that answers a detector (dnf5's one answers both of its variables). */
const sectionOf = (detector: DetectorName): string => (detector === 'dnf5-arch' || detector === 'dnf5-basearch' ? 'dnf5' : detector);

/** One detector's section: its output lines and its exit status (a number, 'absent', or undefined when the section is cut short). */
interface Section {
  readonly text: string;
  readonly exit: number | 'absent' | undefined;
}

/** Splits the command's output into its sections. */
function sections(stdout: string): Map<string, Section> {
  const out = new Map<string, Section>();
  let name: string | undefined;
  let lines: string[] = [];
  let exit: Section['exit'];
  const flush = () => name !== undefined && out.set(name, { text: lines.join('\n').trim(), exit });
  for (const line of stdout.split('\n')) {
    if (line.startsWith(SECTION)) {
      flush();
      name = line.slice(SECTION.length).trim();
      lines = [];
      exit = undefined;
    } else if (line.startsWith(EXIT)) {
      const status = line.slice(EXIT.length).trim();
      exit = status === 'absent' ? 'absent' : Number.parseInt(status, 10);
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
export function parseAptVariants(detector: DetectorName, text: string): DetectorReading | string {
  const invalid = /^W: (Invalid value.*)$/m.exec(text)?.[1];
  if (invalid) return `warned: ${invalid}`;
  const enabled = /^Variants enabled:(.*)$/m.exec(text)?.[1];
  if (enabled === undefined) return 'printed no variant list';
  const variants = enabled.trim().split(/\s+/).filter(Boolean);
  const missing = [...text.matchAll(/^variant auto: (\S+): missing: (.*)$/gm)].map((m) => `${m[1]} lacks ${m[2]!.trim()}`);
  const level = highestLevel(variants) ?? 'v1';
  const next = missing.find((m) => m.startsWith(`amd64v${Number(level.slice(1)) + 1} `));
  return reading(detector, variants.join(' ') || 'none (amd64 only)', level, next ?? (variants.length ? undefined : 'no variant enabled: amd64 only'));
}

/** pacman-conf Architecture: one arch per line (x86_64, x86_64_v3...); the highest is the level pacman takes. */
export function parsePacmanArch(text: string): DetectorReading | string {
  const arches = text.split('\n').map((l) => l.trim()).filter((l) => /^x86_64(?:_v[2-4])?$/.test(l));
  const level = highestLevel(arches);
  return level ? reading('pacman-arch', arches.join(' '), level) : 'printed no x86_64 arch';
}

/** The features in a CPU modalias ("cpu:type:x86,ven…:feature:,0000,0002,…,0125"), as Linux feature numbers. */
export function parseModalias(text: string): Set<number> | undefined {
  const m = /:feature:(.*)$/m.exec(text.trim());
  if (!m) return undefined;
  return new Set(m[1]!.split(',').filter(Boolean).map((h) => Number.parseInt(h, 16)));
}

const reading = (detector: DetectorName, answer: string, level: LevelName | null, note?: string): DetectorReading => ({ detector, answer, level, ...(note ? { note } : {}) });
const failed = (detector: DetectorName, answer: string, failure: string): DetectorReading => ({ detector, answer, level: null, failure });

/** What each section runs, and what "absent" means for it, for messages. */
const COMMANDS: Readonly<Record<string, { readonly command: string; readonly absent: string }>> = {
  cpuid: { command: 'ld.so --list-diagnostics', absent: 'the dynamic loader is not installed' },
  cpuinfo: { command: 'cat /proc/cpuinfo', absent: '/proc/cpuinfo does not exist' },
  modalias: { command: 'cat /sys/devices/system/cpu/modalias', absent: '/sys/devices/system/cpu/modalias does not exist' },
  glibc: { command: 'ld.so --help', absent: 'the dynamic loader is not installed' },
  rpm: { command: 'rpm --showrc', absent: 'rpm is not installed' },
  libzypp: { command: 'zypper system-architecture', absent: 'zypper is not installed' },
  dnf5: { command: 'dnf5 --dump-variables', absent: 'dnf5 is not installed' },
  'apt-variants': { command: 'apt-get check -o Debug::Acquire::Variants=1', absent: 'apt is not installed' },
  'apt-test-table': { command: "apt-get check with apt's test varianttable", absent: 'apt is not installed' },
  'pacman-arch': { command: 'pacman-conf Architecture', absent: 'pacman is not installed' },
};

/** "exit 139 (SIGSEGV)": how a shell reports a command's ending (128 + N is death by signal N). */
function describeExit(status: number | undefined): string {
  if (status === undefined || Number.isNaN(status)) return 'no exit status (the detection script was cut short)';
  const signal = status > 128 ? signalName(status - 128) : null;
  return `exit ${status}${signal ? ` (killed by ${signal})` : ''}`;
}

const excerpt = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-3).join(' | ').slice(0, 200) || 'no output';

/**
 * Reads one detector's section: absent when its tool is not there; a failure when it ran
 * and exited non-zero (or died), or when `parse` finds no answer in what it printed;
 * else what `parse` makes of it.
 */
function readSection(detector: DetectorName, name: string, parts: Map<string, Section>, parse: (text: string) => DetectorReading | string): DetectorReading {
  const part = parts.get(name);
  const { command, absent } = COMMANDS[name] ?? { command: name, absent: `${name} is not installed` };
  if (!part) return failed(detector, 'no answer', `${command} was not asked: the detection script printed no ${name} section`);
  // A section may say why it could not answer (a file the detector needs is not in the image).
  if (part.exit === 'absent') return reading(detector, 'absent', null, part.text || absent);
  if (part.exit !== 0) return failed(detector, excerpt(part.text), `${command} failed: ${describeExit(part.exit)}; it printed: ${excerpt(part.text)}`);
  const parsed = parse(part.text);
  return typeof parsed === 'string' ? failed(detector, excerpt(part.text), `${command} (exit 0) ${parsed}; it printed: ${excerpt(part.text)}`) : parsed;
}

/** An rpm arch name a tool answered: its level, or a failure when the level table does not know it. */
function archReading(detector: DetectorName, arch: string): DetectorReading {
  const level = levelOfArch(arch);
  return level ? reading(detector, arch, level) : failed(detector, arch, `answered ${arch}, an arch the level table does not know (known: ${LEVELS.map((l) => l.rpmArch).join(', ')}, amd64)`);
}

/** The answer of every detector asked (`only`, as given to `detectionCommand`), from its output. */
export function parseDetection(stdout: string, only: readonly DetectorName[] = DETECTORS): DetectorReading[] {
  return parseEvery(stdout).filter((r) => only.includes(r.detector));
}

function parseEvery(stdout: string): DetectorReading[] {
  const parts = sections(stdout);
  const readings: DetectorReading[] = [];
  const lacks = (missing: readonly string[]) => (missing.length ? `lacks ${missing.join(' ')}` : undefined);

  readings.push(
    readSection('cpuid', 'cpuid', parts, (text) => {
      const cpuid = parseCpuidDiagnostics(text);
      if (!cpuid) return 'printed no CPUID words';
      const { level, missing } = levelOfFeatures((f) => (f.cpuid ? cpuid(f.cpuid) : undefined));
      const present = FEATURES.filter((f) => f.cpuid && cpuid(f.cpuid)).map((f) => f.psabi);
      return reading('cpuid', present.join(' '), level, lacks(missing));
    }),
  );

  readings.push(
    readSection('cpuinfo', 'cpuinfo', parts, (text) => {
      const flags = parseCpuinfoFlags(text);
      if (flags.size === 0) return 'has no flags line';
      const cpu = levelFromCpuFlags(flags);
      return reading('cpuinfo', FEATURES.flatMap((f) => (f.cpuinfo && flags.has(f.cpuinfo) ? [f.cpuinfo] : [])).join(' '), cpu.level, lacks(cpu.missingForNext));
    }),
  );

  readings.push(
    readSection('modalias', 'modalias', parts, (text) => {
      const modalias = parseModalias(text);
      if (!modalias) return 'has no feature list';
      const { level, missing } = levelOfFeatures((f) => (f.linux === null ? undefined : modalias.has(f.linux)));
      const hex = FEATURES.flatMap((f) => (f.linux !== null && modalias.has(f.linux) ? [f.linux.toString(16).toUpperCase().padStart(4, '0')] : []));
      return reading('modalias', hex.join(','), level, lacks(missing));
    }),
  );

  readings.push(
    readSection('glibc', 'glibc', parts, (text) => {
      const glibc = levelFromGlibcHelp(text);
      return glibc ? reading('glibc', glibc.supported.join(' ') || 'baseline', glibc.level) : 'printed no glibc-hwcaps section';
    }),
  );

  readings.push(
    readSection('rpm', 'rpm', parts, (text) => {
      const arch = /^install arch\s*:\s*(\S+)/m.exec(text)?.[1];
      return arch ? archReading('rpm', arch) : 'printed no install arch';
    }),
  );

  readings.push(
    readSection('libzypp', 'libzypp', parts, (text) => {
      const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
      // It prints the architecture alone on its line; anything else is an error message.
      return lines.length === 1 && /^[\w-]+$/.test(lines[0]!) ? archReading('libzypp', lines[0]!) : 'printed no architecture';
    }),
  );

  for (const variable of ['arch', 'basearch'] as const) {
    const detector: DetectorName = variable === 'arch' ? 'dnf5-arch' : 'dnf5-basearch';
    readings.push(
      readSection(detector, 'dnf5', parts, (text) => {
        const value = new RegExp(`^${variable} = (\\S+)`, 'm').exec(text)?.[1];
        return value ? archReading(detector, value) : `printed no ${variable}`;
      }),
    );
  }
  readings.push(
    readSection('apt-variants', 'apt-variants', parts, (text) => parseAptVariants('apt-variants', text)),
    readSection('apt-test-table', 'apt-test-table', parts, (text) => parseAptVariants('apt-test-table', text)),
    readSection('pacman-arch', 'pacman-arch', parts, parsePacmanArch),
  );
  return readings;
}

/** Asks the detectors `only` (default every one) in a running guest, in one command (`exec` runs it there). */
export async function askDetectors(exec: (argv: readonly string[], timeoutMs: number) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>, timeoutMs: number, only: readonly DetectorName[] = DETECTORS): Promise<DetectorReading[]> {
  const { argv } = detectionCommand('sid', only);
  const result = await exec(argv, timeoutMs);
  if (result.exitCode !== 0) throw new Error(`the detectors could not be asked (exit ${result.exitCode}): ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
  return parseDetection(result.stdout, only);
}
