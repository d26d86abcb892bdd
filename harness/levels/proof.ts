// Proof that a guest sees exactly the CPU it was pinned to: CPUID (read live), cpuinfo,
// glibc and the canaries must all agree with the level it meets — and, for a near miss,
// show every feature of the level it nearly is but exactly the one it lacks.
import { CANARY_FEATURES, judgeCanaries, parseCanaryOutput, type CanaryResult, type Fidelity } from './canaries.js';
import { levelFromCpuFlags, levelFromGlibcHelp, parseCpuinfoFlags } from './detect.js';
import { parseCpuidDiagnostics } from './detect.js';
import { describeTarget, exactTarget, targetCpuid, targetFeatures, targetRunsFeatures, type CpuTarget } from './targets.js';
import { featuresUpTo, LEVELS, type LevelName } from './table.js';

/** What the guest printed, as collected by the guest's proof step (PROOF_COMMANDS). */
export interface LevelEvidence {
  /** /proc/cpuinfo: the kernel's view, written when the guest booted (a restored guest's is the snapshot's). */
  readonly cpuinfo: string;
  /** `ld.so --list-diagnostics`: CPUID as a new process's glibc read it, live on the CPU the guest runs on now. */
  readonly cpuid: string;
  readonly glibcHelp: string;
  readonly canaryOutput: string;
}

/**
 * The guest commands whose output is the evidence, one per field, run in a fresh
 * process each (so a restored guest answers for the CPU it runs on now, not the one its
 * RAM remembers). Part of the snapshot key (proof-code.ts): a change here rebuilds them.
 */
export const PROOF_COMMANDS: Readonly<Record<keyof LevelEvidence, readonly string[]>> = {
  cpuinfo: ['cat', '/proc/cpuinfo'],
  cpuid: ['/lib64/ld-linux-x86-64.so.2', '--list-diagnostics'],
  glibcHelp: ['/lib64/ld-linux-x86-64.so.2', '--help'],
  canaryOutput: ['/usr/lib/levelgate/canary'],
};

export interface LevelProof {
  /** The level the CPU is pinned to meet. */
  readonly requested: LevelName;
  /** The CPU target ("v3", or a near miss such as "v3-fma"). */
  readonly target: string;
  /** The level the evidence shows (cpuinfo's reading), null when even v1 is incomplete. */
  readonly proven: LevelName | null;
  readonly ok: boolean;
  /** Why the proof failed, one line each; empty when ok. */
  readonly problems: readonly string[];
  readonly cpuinfoLevel: LevelName | null;
  readonly glibcLevel: LevelName | null;
  readonly glibcSupported: readonly string[];
  /** cpuinfo flags of levels above the one proven (a near miss's features of the level it nearly is). */
  readonly strayFlags: readonly string[];
  readonly flags: readonly string[];
  /** The psABI features CPUID showed, live. */
  readonly cpuid: readonly string[];
  readonly canaries: readonly CanaryResult[];
  readonly fidelity: Fidelity;
}

export function proveLevel(pinned: LevelName | CpuTarget, evidence: LevelEvidence): LevelProof {
  const target = typeof pinned === 'string' ? exactTarget(pinned) : pinned;
  const requested = target.level;
  const flags = parseCpuinfoFlags(evidence.cpuinfo);
  const cpu = levelFromCpuFlags(flags);
  const glibc = levelFromGlibcHelp(evidence.glibcHelp);
  const canaries = parseCanaryOutput(evidence.canaryOutput);
  const verdict = judgeCanaries(target, canaries);
  const problems: string[] = [];

  if (flags.size === 0) problems.push('cpuinfo: no flags line in /proc/cpuinfo');
  else if (cpu.level !== requested) {
    problems.push(
      `cpuinfo: the guest sees ${cpu.level ?? 'less than v1'}, not ${requested}` +
        (cpu.missingForNext.length ? ` (missing for the next level: ${cpu.missingForNext.join(' ')})` : ''),
    );
  }
  if (cpu.level === requested && cpu.stray.length > 0) {
    // A near miss may show the features of the level it nearly is (not all: the kernel
    // drops those that depend on the missing one); nothing else.
    const allowed = new Set(targetFeatures(target).flatMap((f) => (f.cpuinfo ? [f.cpuinfo] : [])));
    const wrong = cpu.stray.filter((f) => !allowed.has(f));
    if (wrong.length) problems.push(`cpuinfo: flags above ${target.name} are present: ${wrong.join(' ')} (the pin is not exact)`);
  }
  const missing = target.nearMiss?.missing;
  if (missing?.cpuinfo && flags.has(missing.cpuinfo)) problems.push(`cpuinfo: ${missing.cpuinfo} is present, but ${target.name} is pinned without ${missing.psabi}`);
  if (target.nearMiss && target.nearMiss.by !== 'os' && flags.size > 0) {
    // A CPU near miss shows every other feature of the level it nearly is (an OS near miss
    // does not: the kernel drops what depends on the state it left off; CPUID shows them).
    const absent = targetFeatures(target).flatMap((f) => (f.cpuinfo && !flags.has(f.cpuinfo) ? [f.cpuinfo] : []));
    if (absent.length) problems.push(`cpuinfo: ${absent.join(' ')} ${absent.length > 1 ? 'are' : 'is'} missing, but ${target.name} lacks only ${missing!.psabi}`);
  }
  if (!glibc) problems.push("glibc: `ld.so --help` printed no glibc-hwcaps section (glibc older than 2.33?)");
  else if (glibc.level !== requested) {
    problems.push(`glibc: the dynamic loader supports ${glibc.level}, not ${requested}`);
  }
  if (canaries.length === 0) problems.push('canaries: levelgate-canary printed no results');
  for (const c of verdict.brokenAtLevel) {
    problems.push(`canary ${c.name} (${c.level}) should run at ${requested} but gave ${c.outcome} ${c.detail}`.trim());
  }
  if (target.nearMiss && canaries.length > 0) {
    // Every instruction of the level it nearly is must run, but the missing feature's (and those needing it).
    const below = new Set(featuresUpTo(requested));
    for (const feature of targetRunsFeatures(target).filter((f) => !below.has(f))) {
      const c = canaries.find((r) => CANARY_FEATURES[r.name] === feature.psabi);
      if (!c) problems.push(`canary: no result for ${feature.psabi}, which ${target.name} has`);
      else if (c.outcome !== 'ok') problems.push(`canary ${c.name} (${c.level}) should run on ${target.name}, which has ${feature.psabi}, but gave ${c.outcome} ${c.detail}`.trim());
    }
  }
  problems.push(...cpuidProblems(target, evidence.cpuid));
  return {
    requested,
    target: target.name,
    proven: cpu.level,
    ok: problems.length === 0,
    problems,
    cpuinfoLevel: cpu.level,
    glibcLevel: glibc?.level ?? null,
    glibcSupported: glibc?.supported ?? [],
    strayFlags: cpu.stray,
    flags: [...flags].sort(),
    cpuid: cpuidFeatures(evidence.cpuid),
    canaries,
    fidelity: verdict.fidelity,
  };
}

function cpuidFeatures(text: string): string[] {
  const has = parseCpuidDiagnostics(text);
  return has ? LEVELS.flatMap((l) => l.adds).flatMap((f) => (f.cpuid && has(f.cpuid) ? [f.psabi] : [])) : [];
}

/** CPUID, read live, must show every feature of the target and none it lacks. */
function cpuidProblems(target: CpuTarget, text: string): string[] {
  const has = parseCpuidDiagnostics(text);
  if (!has) return ['cpuid: `ld.so --list-diagnostics` printed no CPUID words (glibc older than 2.33?)'];
  const { present, absent } = targetCpuid(target);
  const lacking = present.filter((f) => !has(f.cpuid!)).map((f) => f.psabi);
  const extra = absent.filter((f) => has(f.cpuid!)).map((f) => f.psabi);
  return [
    ...(lacking.length ? [`cpuid: the CPU lacks ${lacking.join(' ')}, which ${describeTarget(target)} has`] : []),
    ...(extra.length ? [`cpuid: the CPU has ${extra.join(' ')}, which ${describeTarget(target)} lacks`] : []),
  ];
}
