// Judging what the audit found: a file whose code that runs without a CPU check needs
// more than its package's arch claims (or than the glibc-hwcaps directory it sits in)
// is a finding; a package with one is a failing package. Also the run's exit code.
import { archLevel } from '../levels/arch.js';
import { LEVEL_NAMES, levelIndex, type LevelName } from '../levels/table.js';
import { levelLabel } from './features.js';
import type { ExampleInstruction, FileAudit } from './types.js';

export interface Finding {
  readonly path: string;
  /** What the unconditional code needs. */
  readonly needs: LevelName;
  /** What the package (or the hwcaps directory) allows. */
  readonly allowed: LevelName;
  /** The features above `allowed`. */
  readonly features: readonly string[];
  /** The first offending instructions, up to three per feature. */
  readonly examples: readonly (ExampleInstruction & { readonly feature: string })[];
  readonly message: string;
}

/** The level an arch lets a package's x86 code need: noarch must run anywhere (v1); undefined for another family. */
export function allowedLevel(arch: string | undefined): LevelName | undefined {
  if (arch === undefined) return undefined;
  const level = archLevel(arch);
  return level === null ? 'v1' : level;
}

/** The finding for one audited file under a claim, or undefined when its unconditional code stays within it. */
export function judgeFile(file: FileAudit, claim: LevelName | undefined): Finding | undefined {
  if (file.status !== 'audited' || !file.unconditional || claim === undefined) return undefined;
  const allowed = file.loaderLevel && levelIndex(file.loaderLevel) > levelIndex(claim) ? file.loaderLevel : claim;
  const needs = file.unconditional.level;
  if (levelIndex(needs) <= levelIndex(allowed)) return undefined;
  const above = file.unconditional.features.filter((f) => f.level !== null && levelIndex(f.level) > levelIndex(allowed));
  const examples = above.flatMap((f) => f.examples.map((e) => ({ ...e, feature: f.feature })));
  const first = examples[0];
  const why = file.loaderLevel && allowed === file.loaderLevel ? `its glibc-hwcaps directory promises ${levelLabel(allowed)}` : `the package claims ${levelLabel(allowed)}`;
  return {
    path: file.path,
    needs,
    allowed,
    features: above.map((f) => f.feature),
    examples,
    message: `${file.path} needs ${above.map((f) => f.feature).join(', ')} (${levelLabel(needs)}) without a CPU check; ${why}${first ? `: ${first.text} at ${first.address}` : ''}`,
  };
}

export type PackageVerdict = 'pass' | 'finding' | 'error';

/** A package fails on a finding; it is an error when something in it could not be audited; else it passes. */
export function packageVerdict(findings: readonly Finding[], problem: string | undefined, files: readonly FileAudit[]): PackageVerdict {
  if (findings.length) return 'finding';
  if (problem || files.some((f) => f.status === 'error')) return 'error';
  return 'pass';
}

export const AUDIT_EXIT = { ok: 0, findings: 1, usage: 2, infrastructure: 3 } as const;

/**
 * 0 when every package passed; 1 when a package has a finding or could not be audited
 * (a damaged ELF, an RPM that does not unpack: nothing vouches for it).
 */
export function auditExitCode(verdicts: readonly PackageVerdict[]): number {
  return verdicts.some((v) => v !== 'pass') ? AUDIT_EXIT.findings : AUDIT_EXIT.ok;
}

/** The highest of some levels (v1 for none). */
export const highestLevel = (levels: readonly LevelName[]): LevelName => LEVEL_NAMES[Math.max(0, ...levels.map(levelIndex))]!;
