// Judging what the audit found: a file whose code that runs without a CPU check needs
// more than its package's arch claims (or than the glibc-hwcaps directory it sits in)
// is a finding. How sure the static audit is of it (certainty): sure when the file
// checks the CPU nowhere, suspected when it does somewhere (a dispatch the rules do not
// know may guard the code). What running the package says of it (confidence): static
// only, confirmed by a trap, or a trap the static audit did not predict. Also the
// package's verdict and the run's exit code.
import { archLevel } from '../levels/arch.js';
import { LEVEL_NAMES, levelIndex, type LevelName } from '../levels/table.js';
import { levelLabel } from './features.js';
import type { ExampleInstruction, FileAudit, PackageAudit } from './types.js';

/**
 * sure: the file checks the CPU nowhere (no cpuid, no CPU query, no read of a CPU-feature
 * word, no IFUNC): nothing in it can choose its code at run time, so the code runs as
 * compiled. suspect: it checks the CPU somewhere, and the rules may have missed the
 * dispatch that guards this code (docs/audit.md, Limits).
 */
export type Certainty = 'sure' | 'suspect';

/**
 * static: only the static audit says so (nothing ran, or what ran did not trap in the
 * file); confirmed: the static audit said so and a program of the package died of
 * SIGILL in the file; unpredicted: the static audit said the file was clean, and a
 * program died of SIGILL in it.
 */
export type Confidence = 'static' | 'confirmed' | 'unpredicted';

/** What running the package said about a finding (audit --run, or a gate cell's programs). */
export interface RunEvidence {
  /** trapped: a program died of SIGILL in this file (or glibc refused to load it); not-reproduced: programs ran on a CPU without what it needs, and nothing trapped in it. */
  readonly outcome: 'trapped' | 'not-reproduced';
  /** The level of the CPU it ran on. */
  readonly level: LevelName;
  /** The forensics line, or what ran. */
  readonly detail: string;
}

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
  readonly certainty: Certainty;
  /** Why that certainty, in words. */
  readonly why: string;
  readonly confidence: Confidence;
  readonly run?: RunEvidence;
}

/** The level an arch lets a package's x86 code need: noarch must run anywhere (v1); undefined for another family. */
export function allowedLevel(arch: string | undefined): LevelName | undefined {
  if (arch === undefined) return undefined;
  const level = archLevel(arch);
  return level === null ? 'v1' : level;
}

/** Whether the file checks the CPU anywhere, and where (for the finding's `why`). */
export function cpuCheckIn(file: FileAudit): string | undefined {
  const rules = Object.entries(file.conditional?.byRule ?? {}).filter(([, n]) => n);
  if (file.cpuChecks?.length) return `${file.cpuChecks[0]}${file.cpuChecks.length > 1 ? ` (+${file.cpuChecks.length - 1} more)` : ''}`;
  if (rules.length) return `it has conditional code (${rules.map(([rule, n]) => `${rule}: ${n}`).join(', ')})`;
  return undefined;
}

export function certaintyOf(file: FileAudit): { certainty: Certainty; why: string } {
  const check = cpuCheckIn(file);
  return check
    ? { certainty: 'suspect', why: `the file checks the CPU (${check}): a dispatch the rules do not know may guard this code` }
    : { certainty: 'sure', why: 'the file checks the CPU nowhere: nothing can choose its code at run time' };
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
    ...certaintyOf(file),
    confidence: 'static',
  };
}

/** A finding that fails its package: one the static audit is sure of, or one running confirmed. */
export const fails = (f: Finding): boolean => f.certainty === 'sure' || f.confidence !== 'static';

/** pass; finding (one fails it); suspect (only suspected findings); error (something in it could not be audited). */
export type PackageVerdict = 'pass' | 'finding' | 'suspect' | 'error';

export function packageVerdict(findings: readonly Finding[], problem: string | undefined, files: readonly FileAudit[]): PackageVerdict {
  if (findings.some(fails)) return 'finding';
  if (problem || files.some((f) => f.status === 'error')) return 'error';
  return findings.length ? 'suspect' : 'pass';
}

/** A package's record from what was audited: the findings against its arch's claim, and its verdict. */
export function judgePackage(base: Omit<PackageAudit, 'findings' | 'verdict' | 'allowed'>): PackageAudit {
  const allowed = allowedLevel(base.arch);
  const findings = base.files.map((f) => judgeFile(f, allowed)).filter((f): f is Finding => f !== undefined);
  return { ...base, allowed, findings, verdict: packageVerdict(findings, base.problem, base.files) };
}

export const AUDIT_EXIT = { ok: 0, findings: 1, usage: 2, infrastructure: 3 } as const;

/**
 * 0 when no package has a finding that fails it; 1 when one has, or could not be audited
 * (a damaged ELF, an RPM that does not unpack: nothing vouches for it). Suspected
 * findings fail only when `strict`: without a run to confirm them, they may be dispatch
 * the rules do not know.
 */
export function auditExitCode(verdicts: readonly PackageVerdict[], strict = false): number {
  return verdicts.some((v) => v === 'finding' || v === 'error' || (strict && v === 'suspect')) ? AUDIT_EXIT.findings : AUDIT_EXIT.ok;
}

/** The highest of some levels (v1 for none). */
export const highestLevel = (levels: readonly LevelName[]): LevelName => LEVEL_NAMES[Math.max(0, ...levels.map(levelIndex))]!;
