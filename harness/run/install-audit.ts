// gate --audit: every package a cell's steps installed (the NEVRAs after a step that were
// not there before it) is audited statically, from its file in the scenario's
// repositories, against the level of the guest it was installed on: what matters to that
// guest, whatever the arch claims. A finding is a failing check "audit NEVRA" in that
// step, with the first offending instructions. The gate judges strictly (audit --strict):
// a suspected finding (code the analysis cannot place needs more) fails as well.
import { judgeFile, type Finding } from '../audit/findings.js';
import type { InstallAuditor } from '../audit/install-auditor.js';
import type { PackageAudit } from '../audit/types.js';
import { levelLabel } from '../audit/features.js';
import { ownedBy, type ForensicsRecord } from '../model/forensics-record.js';
import type { LevelName } from '../levels/table.js';
import { parseNevra } from '../packages/available.js';
import type { CheckResult, StepRecord } from '../results/types.js';

/** The NEVRAs a step added to the rpm database. */
export function installedBy(step: StepRecord): string[] {
  const before = new Set(step.installedBefore);
  return step.installedAfter.filter((n) => !before.has(n));
}

const EXAMPLES = 3;

/** One package's check: its audit judged at `level`; `forensics`, the cell's SIGILLs. */
export function auditCheck(nevra: string, audit: PackageAudit | undefined, level: LevelName, forensics: readonly ForensicsRecord[]): CheckResult {
  const base = { kind: 'audit' as const, subject: parseNevra(nevra)?.name ?? nevra, check: `audit ${nevra}`, expected: `code that runs on ${levelLabel(level)} (the guest it was installed on)` };
  if (!audit) return { ...base, actual: 'not audited', status: 'skip', skipReason: 'its file is in none of the scenario’s repositories on the host' };
  if (audit.problem) return { ...base, actual: `could not be audited: ${audit.problem}`, status: 'fail', deviation: 'above-level' };
  const broken = audit.files.find((f) => f.status === 'error');
  if (broken) return { ...base, actual: `${broken.path} could not be audited: ${broken.reason ?? 'unknown'}`, status: 'fail', deviation: 'above-level' };
  const trapped = (f: Finding) => forensics.find((r) => r.file === f.path && ownedBy(r, nevra));
  const findings = audit.files.map((f) => judgeFile(f, level)).filter((f): f is Finding => f !== undefined);
  // Strict, as audit --strict: sure and suspected findings alike fail the check.
  if (findings.length) {
    const text = findings.map((f) => {
      const trap = trapped(f);
      // The first instruction of each offending feature, then more of the first, up to three.
      const first = [...new Set([...f.features.flatMap((feature) => f.examples.find((e) => e.feature === feature) ?? []), ...f.examples])].slice(0, EXAMPLES).map((e) => `${e.address}${e.offset ? ` (file +${e.offset})` : ''}: ${e.text} (${e.feature})`);
      const certainty = f.certainty === 'sure' ? `sure (${f.basis})` : `suspected (${f.basis}): ${f.why}`;
      return `${f.path} needs ${f.features.join(', ')} (${levelLabel(f.needs)}) without a CPU check, ${certainty}${first.length ? `: ${first.join('; ')}` : ''}${trap ? ` — confirmed: ${trap.line}` : ''}`;
    });
    return { ...base, actual: text.join(' | '), status: 'fail', deviation: 'above-level' };
  }
  const audited = audit.files.filter((f) => f.status === 'audited');
  const needs = audited.map((f) => f.unconditional?.level ?? 'v1').sort().at(-1) ?? 'v1';
  return { ...base, actual: `${audited.length} ELF file${audited.length === 1 ? '' : 's'}, without a CPU check ${levelLabel(needs)}`, status: 'pass' };
}

/** The steps with a check for each package they installed. */
export async function auditInstalls(steps: readonly StepRecord[], files: ReadonlyMap<string, string>, auditor: InstallAuditor, forensics: readonly ForensicsRecord[]): Promise<StepRecord[]> {
  return Promise.all(
    steps.map(async (step) => {
      const added = installedBy(step);
      if (!added.length) return step;
      const checks = await Promise.all(
        added.map(async (nevra) => {
          const file = files.get(nevra);
          return auditCheck(nevra, file ? await auditor.audit(file) : undefined, step.level, forensics);
        }),
      );
      return { ...step, checks: [...step.checks, ...checks] };
    }),
  );
}
