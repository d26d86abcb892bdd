// What running a package adds to its static audit: a SIGILL in one of its files confirms
// the finding for that file (confidence "confirmed"), or is a finding of its own the
// static audit did not predict ("unpredicted");
// a finding whose code needs more than the CPU it ran on, where its programs ran and
// nothing trapped in it, is "not reproduced" (evidence against it, not proof: the
// programs may not have reached that code). Pure.
import { levelLabel } from '../features.js';
import { packageVerdict, type Finding } from '../findings.js';
import { LEVEL_NAMES, levelIndex, type LevelName } from '../../levels/table.js';
import type { PackageAudit } from '../types.js';
import type { PackageRun, RunTrap } from './types.js';

/** Whether a SIGILL fails the package: on a CPU its arch claims to run on, any trap in its files; below that, only an instruction above the claim. */
function trapFails(trap: RunTrap, run: PackageRun, allowed: LevelName): boolean {
  if (levelIndex(run.level) >= levelIndex(allowed)) return true;
  const needs = trap.needs;
  return needs !== null && needs !== undefined && levelIndex(needs) > levelIndex(allowed);
}

const neededBy = (trap: RunTrap): string =>
  trap.needs ? `needs ${levelLabel(trap.needs)}` : trap.needs === null ? `needs ${trap.kind === 'trap' ? trap.features.join(', ') : 'a feature'}, in no psABI level` : 'an instruction the forensics could not read';

function trapFinding(trap: RunTrap & { file: string }, needs: LevelName, allowed: LevelName, run: PackageRun): Finding {
  const features = trap.kind === 'trap' ? trap.features : [];
  const instruction = trap.kind === 'trap' && trap.instruction ? trap.instruction : undefined;
  const offset = trap.kind === 'trap' && trap.offset !== undefined ? `0x${trap.offset.toString(16)}` : undefined;
  return {
    path: trap.file,
    needs,
    allowed,
    features,
    examples: instruction && offset ? features.map((feature) => ({ address: offset, offset, text: instruction, feature })).slice(0, 1) : [],
    message: `${trap.file} died of SIGILL at ${levelLabel(run.level)} (${neededBy(trap)}; the package claims ${levelLabel(allowed)}), which the static audit did not predict`,
    certainty: 'sure',
    basis: 'trap',
    why: 'a program of the package died of it',
    confidence: 'unpredicted',
    run: { outcome: 'trapped', level: run.level, detail: trap.line },
  };
}

export function withRun(pkg: PackageAudit, run: PackageRun): PackageAudit {
  const allowed = pkg.allowed;
  const own = new Set([...pkg.files.map((f) => f.path), ...(pkg.programs ?? [])]);
  const inPackage = (trap: RunTrap): trap is RunTrap & { file: string } => trap.file !== undefined && (own.has(trap.file) || trap.owners.includes(pkg.id));
  const findings = new Map(pkg.findings.map((f) => [f.path, f]));
  if (allowed !== undefined) {
    for (const trap of run.traps) {
      if (!inPackage(trap) || !trapFails(trap, run, allowed)) continue;
      const known = findings.get(trap.file);
      if (known) {
        if (known.run?.outcome !== 'trapped') findings.set(trap.file, { ...known, confidence: 'confirmed', run: { outcome: 'trapped', level: run.level, detail: trap.line } });
        continue;
      }
      // An instruction the forensics could not name still trapped: it needs more than this CPU.
      const needs = trap.needs ?? levelAbove(run.level);
      if (needs) findings.set(trap.file, trapFinding(trap, needs, allowed, run));
    }
  }
  const ran = run.programs.filter((p) => !p.spawnFailed && !p.timedOut && p.signal === null);
  for (const [path, f] of findings) {
    if (f.run || ran.length === 0 || levelIndex(run.level) >= levelIndex(f.needs)) continue;
    const detail = `${run.programs.length === 1 ? 'its command' : `${ran.length} of its ${run.programs.length} commands`} ran to the end (${ran.map((p) => p.command).slice(0, 3).join('; ')}${ran.length > 3 ? '; …' : ''}) with no SIGILL in ${path}`;
    findings.set(path, { ...f, run: { outcome: 'not-reproduced', level: run.level, detail } });
  }
  const list = [...findings.values()];
  return { ...pkg, run, findings: list, verdict: packageVerdict(list, pkg.problem, pkg.files) };
}

const levelAbove = (level: LevelName): LevelName | undefined => LEVEL_NAMES[levelIndex(level) + 1];
