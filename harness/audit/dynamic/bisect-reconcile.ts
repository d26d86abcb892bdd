// What a bisection found, per subject: the lowest level it runs at, what killed it one
// level below (the instruction and its extension), and whether that agrees with the
// static audit's level for the file, with which one is off and why; per package, the
// run at the level its arch claims reconciled with its findings as `audit --run` does. Pure.
import { levelLabel } from '../features.js';
import { levelIndex, type LevelName } from '../../levels/table.js';
import type { FileAudit, PackageAudit } from '../types.js';
import type { BisectSubject } from './bisect-plan.js';
import { withRun } from './reconcile.js';
import type { BisectResult, Killer, LevelAttempt, PackageRun, Reconciliation, RunTrap } from './types.js';

/** The lowest level a subject ran at, among its attempts (lowest first). */
export const lowestRun = (attempts: readonly LevelAttempt[]): LevelAttempt | undefined => attempts.find((a) => a.outcome === 'ran');

/** How an attempt that did not run ended, in a few words. */
function endedText(a: LevelAttempt): string {
  if (a.problem) return a.problem;
  const p = a.programs.find((x) => x.signal !== null || x.timedOut || x.spawnFailed || x.exitCode !== 0);
  if (!p) return 'ran';
  const how = p.timedOut ? 'timed out' : p.spawnFailed ? 'could not start' : p.signal ? `was killed by ${p.signal}` : `exited ${p.exitCode}`;
  return `${p.command} ${how}${p.firstLine ? `: ${p.firstLine}` : ''}`;
}

/** The SIGILL that killed the subject: one in its own file first, else the first. */
const killingTrap = (a: LevelAttempt, guestFile: string): RunTrap | undefined => a.traps.find((t) => t.file === guestFile) ?? a.traps[0];

export function killerOf(a: LevelAttempt, guestFile: string): Killer | undefined {
  if (a.outcome === 'ran' || a.outcome === 'not-run') return undefined;
  const trap = killingTrap(a, guestFile);
  if (a.outcome !== 'sigill' || !trap) return { level: a.level, how: a.outcome === 'sigill' ? 'sigill' : a.outcome, line: endedText(a) };
  if (trap.kind === 'glibc-refusal') return { level: a.level, how: 'sigill', extension: `x86-64-${trap.needs}`, needs: trap.needs, line: trap.line };
  return {
    level: a.level,
    how: 'sigill',
    ...(trap.instruction ? { mnemonic: trap.instruction.split(' ')[0]! } : {}),
    ...(trap.features.length ? { extension: trap.features.join(', ') } : {}),
    ...(trap.needs !== undefined ? { needs: trap.needs } : {}),
    line: trap.line,
  };
}

const staticLevelOf = (file: FileAudit | undefined): LevelName | undefined => (file?.status === 'audited' ? (file.unconditional?.level ?? 'v1') : undefined);

/** Where the static and dynamic answers part, and why. */
export function reconcile(subject: BisectSubject, runsAt: LevelName | undefined, below: LevelAttempt | undefined, file: FileAudit | undefined, levels: readonly LevelName[]): Reconciliation {
  const s = staticLevelOf(file);
  const tried = levels.map((l) => levelLabel(l)).join(', ');
  if (s === undefined) return { agreement: 'undecided', text: `the static audit has no level for ${subject.path}` };
  if (runsAt === undefined) return { agreement: 'undecided', text: `it ran cleanly at none of ${tried}; the static audit says ${levelLabel(s)}` };
  const lowestTried = levels[0]!;
  if (runsAt === s) return { agreement: 'agree', text: `static and dynamic agree: ${levelLabel(s)}` };
  if (levelIndex(s) > levelIndex(runsAt)) {
    const example = file?.unconditional?.features.find((f) => f.level === s)?.examples[0];
    const checks = file?.cpuChecks?.length ? `; the file checks the CPU (${file.cpuChecks[0]}), so a dispatch the static rules miss may guard it` : '';
    return {
      agreement: 'static-higher',
      text:
        `static ${levelLabel(s)} is higher than dynamic ${levelLabel(runsAt)}: the static audit counts code needing ${levelLabel(s)} outside any CPU check` +
        `${example ? ` (e.g. ${example.address}: ${example.text})` : ''}, and ${subject.commands.length > 1 ? 'these commands' : 'this command'} ran at ${levelLabel(runsAt)} without reaching it${checks}; the dynamic level holds for what ran, the static one for every path`,
    };
  }
  // Dynamic higher: it died at a level the static audit says is enough.
  if (!below || levelIndex(runsAt) === levelIndex(lowestTried)) return { agreement: 'undecided', text: `it runs at ${levelLabel(runsAt)}, the lowest level tried; the static audit says ${levelLabel(s)}` };
  const trap = killingTrap(below, subject.guestFile);
  const died = `it died at ${levelLabel(below.level)} (${endedText(below)})`;
  let why: string;
  if (below.outcome !== 'sigill' || !trap) why = `${died} without a SIGILL: the program refused the CPU itself, or failed for another reason`;
  else if (trap.kind === 'glibc-refusal') why = `glibc refused to load it: ${trap.line}`;
  else if (trap.file === undefined) why = `the instruction lies in no file (${trap.note ?? 'code made at run time'}): JIT or generated code, which no static audit of the file sees`;
  else if (trap.file !== subject.guestFile) why = `the instruction is in ${trap.file} (${trap.package}), not in ${subject.path}: the static audit judged this file alone`;
  else if (file?.conditional && trap.needs && levelIndex(file.conditional.level) >= levelIndex(trap.needs)) why = `the static audit counts code needing ${levelLabel(trap.needs)} only after a CPU check: the check let it run here, or the rules credited a check that does not guard it (${trap.line})`;
  else why = `the static audit did not see that instruction outside a check (${trap.line}): code it did not decode or dropped as data`;
  return { agreement: 'static-lower', text: `static ${levelLabel(s)} is lower than dynamic ${levelLabel(runsAt)}: ${why}` };
}

/** One subject's result from its attempts. */
export function bisectResult(subject: BisectSubject, attempts: readonly LevelAttempt[], nearMisses: readonly LevelAttempt[], file: FileAudit | undefined, levels: readonly LevelName[]): BisectResult {
  const ran = lowestRun(attempts);
  const below = ran ? attempts.find((a) => levelIndex(a.level) === levelIndex(ran.level) - 1) : undefined;
  const killer = below ? killerOf(below, subject.guestFile) : undefined;
  const staticLevel = staticLevelOf(file);
  const tried = levels.filter((l) => attempts.some((a) => a.level === l));
  return {
    path: subject.path,
    kind: subject.kind,
    commands: subject.commands.map((argv) => argv.join(' ')),
    ...(ran ? { runsAt: ran.level } : {}),
    ...(killer ? { killedBelowBy: killer } : {}),
    attempts,
    ...(nearMisses.length ? { nearMisses } : {}),
    ...(staticLevel ? { staticLevel } : {}),
    reconciliation: reconcile(subject, ran?.level, below, file, tried.length ? tried : levels),
  };
}

/**
 * A package with its bisection: the results, and its findings reconciled with the run at
 * the level its arch claims (confirmed, unpredicted, not reproduced), as `audit --run`
 * at that level would.
 */
export function withBisect(pkg: PackageAudit, subjects: readonly BisectSubject[], results: readonly BisectResult[]): PackageAudit {
  const indexes = subjects.flatMap((s, i) => (s.packageId === pkg.id ? [i] : []));
  const mine = indexes.map((i) => results[i]!);
  if (mine.length === 0) return pkg;
  const claim = pkg.allowed;
  // A loose file's traps name it where the guest sees it: named back as the audit does.
  const hostName = new Map(indexes.map((i) => [subjects[i]!.guestFile, subjects[i]!.path]));
  const rename = (a: LevelAttempt): LevelAttempt => ({ ...a, traps: a.traps.map((t) => (t.file && hostName.has(t.file) ? { ...t, file: hostName.get(t.file)! } : t)) });
  const atClaim = claim ? mine.flatMap((r) => r.attempts.filter((a) => a.level === claim && a.target === claim).map(rename)) : [];
  let out: PackageAudit = { ...pkg, bisect: mine };
  if (claim && atClaim.length) {
    const run: PackageRun = {
      target: claim,
      level: claim,
      ...(atClaim[0]!.accel ? { accel: atClaim[0]!.accel } : {}),
      ...(atClaim[0]!.fidelity ? { fidelity: atClaim[0]!.fidelity } : {}),
      programs: atClaim.flatMap((a) => a.programs),
      traps: atClaim.flatMap((a) => a.traps),
      ...(atClaim.every((a) => a.infrastructure) ? { problem: atClaim[0]!.problem ?? 'not run', infrastructure: true } : {}),
      durationMs: atClaim.flatMap((a) => a.programs).reduce((n, p) => n + p.durationMs, 0),
    };
    out = { ...withRun(out, run), bisect: mine };
  }
  return out;
}
