// What the ISA audit reports: per ELF file the extensions its code uses, split into code
// that runs without a CPU check and code reached only after one; per package the claim
// its arch makes and whether its unconditional code keeps it.
import type { LevelName } from '../levels/table.js';
import type { ConditionRule } from './dispatch.js';
import type { Finding, PackageVerdict } from './findings.js';
import type { BisectResult, PackageRun } from './dynamic/types.js';

export interface ExampleInstruction {
  /** 0x-prefixed virtual address (file offset in relocatable objects). */
  readonly address: string;
  /** 0x-prefixed offset in the file: what the kernel's trap line and SIGILL forensics print. */
  readonly offset?: string;
  /** Intel syntax, as iced-x86 formats it. */
  readonly text: string;
  /** Code that runs without a CPU check: the entry point and the functions through which it is reached. */
  readonly via?: string;
}

export interface FeatureUse {
  /** The psABI name (harness/levels/table.ts), or iced's name for a feature outside every level (AES, SHA…). */
  readonly feature: string;
  /** The level that brings the feature; null when no psABI level has it. */
  readonly level: LevelName | null;
  /** Instructions that need it. */
  readonly count: number;
  readonly examples: readonly ExampleInstruction[];
}

export interface IsaSummary {
  /** The lowest level that runs every instruction of this code (v1 when it needs nothing more). */
  readonly level: LevelName;
  /** The features at `level` that set it (empty at v1). */
  readonly levelSetBy: readonly string[];
  /** Features no psABI level has, which this code needs as well. */
  readonly beyond: readonly string[];
  readonly features: readonly FeatureUse[];
  /** Instructions listed but not counted towards a level, with why (tzcnt, xgetbv). */
  readonly discounted: readonly { readonly what: string; readonly count: number }[];
  readonly instructions: number;
}

export interface FunctionLevel {
  readonly name: string;
  readonly address: string;
  /** What the function needs; null when nothing beyond the general-purpose ISA. */
  readonly level: LevelName | null;
}

export interface UnconditionalCode extends IsaSummary {
  /** The functions needing more than v1, highest level first (at most 100). */
  readonly functions: readonly FunctionLevel[];
}

export interface ConditionalFunction extends FunctionLevel {
  readonly rule: ConditionRule;
  readonly detail: string;
}

export interface ConditionalCode extends IsaSummary {
  /** How many functions each rule made conditional. */
  readonly byRule: Partial<Record<ConditionRule, number>>;
  /** The conditional functions, highest level first (at most 100). */
  readonly functions: readonly ConditionalFunction[];
}

export interface UnresolvedFunction extends FunctionLevel {
  /** What refers to it: pointers in data (an indirect call the analysis cannot follow), only other unresolved code, or nothing. */
  readonly referredBy: 'data' | 'code' | 'nothing';
}

/** Code neither reached from an entry point without a check nor after one: the analysis cannot say whether it runs without a check. */
export interface UnresolvedCode extends IsaSummary {
  readonly bytes: number;
  /** Functions (not counting code between functions). */
  readonly functions: number;
  /** Of those, how many data points at (vtables, callback tables). */
  readonly fromData: number;
  /** The unresolved functions needing more than the general-purpose ISA, highest level first (at most 100). */
  readonly listed: readonly UnresolvedFunction[];
}

/** How the file's code divides between reached without a check, after one, and unresolved. */
export interface ReachSplit {
  readonly entryPoints: number;
  /** Entry points by kind (entry, main, init/fini, export, IFUNC, global). */
  readonly entryKinds: Readonly<Record<string, number>>;
  readonly reachedBytes: number;
  readonly conditionalBytes: number;
  readonly unresolvedBytes: number;
}

export type FileStatus = 'audited' | 'skipped' | 'error';

export interface FileAudit {
  /** The path as the package or image has it (/usr/bin/x), or as given. */
  readonly path: string;
  readonly status: FileStatus;
  /** Why the file was skipped or could not be audited. */
  readonly reason?: string;
  readonly bits?: 32 | 64;
  /** Bytes of executable sections (segments, without section headers). */
  readonly codeBytes: number;
  /** Bytes left out as data: gaps between functions that decode to invalid or privileged instructions. */
  readonly rejectedBytes?: number;
  /** Undecodable bytes inside functions (decoding goes on after each). */
  readonly invalidBytes?: number;
  /** Where function boundaries came from. */
  readonly boundaries?: 'symbols' | 'symbols+eh_frame' | 'eh_frame' | 'gopclntab' | 'none';
  readonly functions?: number;
  /** A note about the file's structure (a damaged .eh_frame, …). */
  readonly notes?: readonly string[];
  /** glibc-hwcaps/x86-64-vN: the loader loads this file only on CPUs at vN. */
  readonly loaderLevel?: LevelName;
  /** Where the file checks the CPU (at most 10). */
  readonly cpuChecks?: readonly string[];
  readonly all?: IsaSummary;
  /** Code reached from an entry point (ELF entry, main, init/fini arrays, exports, IFUNC resolvers) without a CPU check (beyond the loader's glibc-hwcaps one). */
  readonly unconditional?: UnconditionalCode;
  /**
   * Code that the entry points reach without a check only past tests of flag fields —
   * structure fields (`[reg+disp]`) a function that checks the CPU stores a feature into
   * (libgcrypt's use_avx2, zstd's bmi2), told apart by their offset alone — when it needs
   * more than `unconditional`: what it needs (examples name their chain), and the offsets.
   */
  readonly pastFlagFields?: IsaSummary & { readonly fields: readonly string[] };
  /** Code reached only after a CPU check. */
  readonly conditional?: ConditionalCode;
  /** Code the analysis cannot place: neither reached from an entry point nor after a check. */
  readonly unresolved?: UnresolvedCode;
  readonly reach?: ReachSplit;
  readonly milliseconds: number;
}

/** What an input path was taken for. */
export type InputKind = 'rpm' | 'repository' | 'image' | 'tree' | 'file' | 'directory';

export interface PackageAudit {
  /** NEVRA for RPMs, NAME_VERSION_ARCH for Debian packages, the path for a file given alone, "(no package)" for unowned files. */
  readonly id: string;
  readonly manager: 'rpm' | 'dpkg' | 'none';
  /** The input it came from. */
  readonly input: string;
  /** The package file on the host (RPMs: the file itself, or its place in the repository). */
  readonly file?: string;
  readonly inputKind: InputKind;
  /** The arch it claims (RPM terms; --arch for files in no package); undefined when unknown. */
  readonly arch: string | undefined;
  /** What that arch lets its code need without a CPU check; undefined: not judged (another family). */
  readonly allowed: LevelName | undefined;
  /** Why the package could not be audited (not an RPM, does not unpack). */
  readonly problem?: string;
  readonly files: readonly FileAudit[];
  /** Files that are not ELF (scripts, data). */
  readonly otherFiles: number;
  /** The executable files it ships in /usr/bin, /usr/sbin, /bin and /sbin (RPMs only): what `audit --run` runs. */
  readonly programs?: readonly string[];
  /** What running it in a pinned guest showed (audit --run). */
  readonly run?: PackageRun;
  /** audit --run bisect: each of its programs and libraries, the lowest level it runs at and what kills it below. */
  readonly bisect?: readonly BisectResult[];
  readonly findings: readonly Finding[];
  readonly verdict: PackageVerdict;
}

export interface AuditRun {
  readonly tool: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly inputs: readonly string[];
  readonly jobs: number;
  readonly packages: readonly PackageAudit[];
  readonly notes: readonly string[];
  readonly totals: {
    readonly packages: number;
    /** Packages with a finding that fails them (sure, or confirmed by running). */
    readonly findings: number;
    /** Packages whose only findings are suspected (see Finding.confidence). */
    readonly suspects: number;
    readonly errors: number;
    readonly elfFiles: number;
    readonly codeBytes: number;
    /** MB of code per second of wall time, file reading to summaries. */
    readonly mbPerSecond: number;
  };
  readonly interrupted: boolean;
  /** audit --run: the CPU the packages ran on (a level, or "auto": each at the level its arch claims). */
  readonly run?: string;
  /** audit --run bisect: guests restored (or booted) and wall time in ms (without the accelerator probe), per CPU target. */
  readonly bisectCost?: { readonly restores: Readonly<Record<string, number>>; readonly targetMs: Readonly<Record<string, number>> };
}
