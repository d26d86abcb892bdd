// Judging what the audit found: a file whose code that runs without a CPU check needs
// more than its package's arch claims (or than the glibc-hwcaps directory it sits in)
// is a finding. How sure the static audit is of it (certainty), and what that rests on
// (basis): sure when code reached from an entry point without a check needs more, or
// when the file checks the CPU nowhere; suspected when code is reached only past tests
// of flag fields (structure fields a CPU check fills, known by their offset alone), or
// when only code the analysis cannot place (reached only through pointers in data, or
// by nothing it sees) needs more. What
// running the package says of it (confidence): static only, confirmed by a trap, or a
// trap the static audit did not predict. Also the package's verdict and the exit code.
import { archLevel } from '../levels/arch.js';
import { levelIndex, type LevelName } from '../levels/table.js';
import { levelLabel } from './features.js';
import type { ExampleInstruction, FeatureUse, FileAudit, PackageAudit } from './types.js';

/**
 * sure: the analysis settled it (see Basis); suspect: it could not — code it cannot
 * place needs more than the claim, and whether that code runs without a check is unknown.
 */
export type Certainty = 'sure' | 'suspect';

/**
 * What a certainty rests on. reached: an entry point reaches the code through direct
 * calls, jumps and address loads with no CPU check on the way (the finding names the
 * chain); no-cpu-check: the file checks the CPU nowhere, so any of its code that runs,
 * runs as compiled; flag-field: an entry point reaches the code only past tests of
 * structure fields a function that checks the CPU stores a feature into (a run-time
 * dispatch flag such as libgcrypt's use_avx2, tied to its check by the field's offset
 * alone: suspect); unresolved: only code the analysis cannot place needs more (suspect);
 * trap: a program of the package died of SIGILL in the file.
 */
export type Basis = 'reached' | 'flag-field' | 'no-cpu-check' | 'unresolved' | 'trap';

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
  readonly basis: Basis;
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

const kb = (bytes: number): string => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} KB`);

/** "12 functions (40 KB, 3% of the code)": how much code the analysis could not place. */
export function unresolvedText(file: FileAudit): string {
  const u = file.unresolved;
  if (!u) return 'no code';
  const share = file.codeBytes ? ` ${((100 * u.bytes) / file.codeBytes).toFixed(u.bytes * 100 < file.codeBytes ? 1 : 0)}% of the code,` : '';
  return `${u.functions} function${u.functions === 1 ? '' : 's'} (${kb(u.bytes)},${share} ${u.fromData} of them pointed at from data)`;
}

const above = (features: readonly FeatureUse[], allowed: LevelName): FeatureUse[] => features.filter((f) => f.level !== null && levelIndex(f.level) > levelIndex(allowed));

/** The finding for one audited file under a claim, or undefined when its code that runs without a check stays within it. */
export function judgeFile(file: FileAudit, claim: LevelName | undefined): Finding | undefined {
  if (file.status !== 'audited' || !file.unconditional || claim === undefined) return undefined;
  const allowed = file.loaderLevel && levelIndex(file.loaderLevel) > levelIndex(claim) ? file.loaderLevel : claim;
  const claims = file.loaderLevel && allowed === file.loaderLevel ? `its glibc-hwcaps directory promises ${levelLabel(allowed)}` : `the package claims ${levelLabel(allowed)}`;
  const finding = (needs: LevelName, features: FeatureUse[], what: string, certainty: Certainty, basis: Basis, why: string): Finding => {
    const examples = features.flatMap((f) => f.examples.map((e) => ({ ...e, feature: f.feature })));
    const first = examples[0];
    return {
      path: file.path,
      needs,
      allowed,
      features: features.map((f) => f.feature),
      examples,
      message: `${file.path}${what} needs ${features.map((f) => f.feature).join(', ')} (${levelLabel(needs)}) without a CPU check; ${claims}${first ? `: ${first.text} at ${first.address}` : ''}`,
      certainty,
      basis,
      why,
      confidence: 'static',
    };
  };
  const reached = file.unconditional;
  if (levelIndex(reached.level) > levelIndex(allowed)) {
    const features = above(reached.features, allowed);
    const via = features.flatMap((f) => f.examples).find((e) => e.via)?.via;
    return finding(reached.level, features, '', 'sure', 'reached', `reached without a CPU check from ${via ?? 'an entry point'}`);
  }
  const flagged = file.pastFlagFields;
  if (flagged && levelIndex(flagged.level) > levelIndex(allowed)) {
    const features = above(flagged.features, allowed);
    const via = features.flatMap((f) => f.examples).find((e) => e.via)?.via;
    return finding(
      flagged.level,
      features,
      ' (past run-time flags)',
      'suspect',
      'flag-field',
      `reached without a CPU check from ${via ?? 'an entry point'} only past tests of structure fields (offset ${flagged.fields.join(', ')}) that functions checking the CPU store a feature into: run-time dispatch flags, tied to their check by the field's offset alone; what the entry points reach otherwise needs ${levelLabel(reached.level)}`,
    );
  }
  const u = file.unresolved;
  if (!u || levelIndex(u.level) <= levelIndex(allowed)) return undefined;
  const features = above(u.features, allowed);
  const check = cpuCheckIn(file);
  if (!check) return finding(u.level, features, '', 'sure', 'no-cpu-check', `the file checks the CPU nowhere: nothing can choose its code at run time (the code needing it, ${unresolvedText(file)}, is not reached from an entry point the analysis follows)`);
  return finding(
    u.level,
    features,
    ' (code the analysis cannot place)',
    'suspect',
    'unresolved',
    `${unresolvedText(file)} that no entry point reaches through calls the analysis follows need ${levelLabel(u.level)}, and the file checks the CPU (${check}); what the entry points reach without a check needs ${levelLabel(reached.level)}`,
  );
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
 * (a damaged ELF, an RPM that does not unpack: nothing vouches for it). `strict` (audit
 * --strict, and gate --audit) fails suspected findings too: code the analysis cannot
 * place that needs more than the claim is not vouched for either.
 */
export function auditExitCode(verdicts: readonly PackageVerdict[], strict = false): number {
  return verdicts.some((v) => v === 'finding' || v === 'error' || (strict && v === 'suspect')) ? AUDIT_EXIT.findings : AUDIT_EXIT.ok;
}

