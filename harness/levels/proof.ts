// Proof that a guest sees exactly the CPU it was pinned to: cpuinfo, glibc and the
// canaries must all agree with the level it meets — and, for a near miss, show the
// features of the level it nearly is, but for exactly the one it lacks.
import { judgeCanaries, parseCanaryOutput, type CanaryResult, type Fidelity } from './canaries.js';
import { levelFromCpuFlags, levelFromGlibcHelp, parseCpuinfoFlags } from './detect.js';
import { exactTarget, targetFeatures, type CpuTarget } from './targets.js';
import type { LevelName } from './table.js';

/** What the guest printed, as collected by the guest's proof step. */
export interface LevelEvidence {
  readonly cpuinfo: string;
  readonly glibcHelp: string;
  readonly canaryOutput: string;
}

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
  if (!glibc) problems.push("glibc: `ld.so --help` printed no glibc-hwcaps section (glibc older than 2.33?)");
  else if (glibc.level !== requested) {
    problems.push(`glibc: the dynamic loader supports ${glibc.level}, not ${requested}`);
  }
  if (canaries.length === 0) problems.push('canaries: levelgate-canary printed no results');
  for (const c of verdict.brokenAtLevel) {
    problems.push(`canary ${c.name} (${c.level}) should run at ${requested} but gave ${c.outcome} ${c.detail}`.trim());
  }
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
    canaries,
    fidelity: verdict.fidelity,
  };
}
