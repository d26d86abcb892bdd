// What a run produces, as every reporter and runner sees it and as gate.json stores it:
// cells with their verdicts, steps, commands and checks. The engine writes these; the
// reporters only read them. Nothing here imports the engine.
import type { LevelName } from '../levels/table.js';

export const VERDICTS = ['pass', 'fail', 'xfail', 'xpass', 'skip', 'error'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** A cell as reporters know it before it runs. */
export interface CellRef {
  /** "scenario[target,driver]": unique across the matrix. */
  readonly id: string;
  readonly scenario: string;
  readonly title: string;
  /** The CPU the cell starts on: a level ("v3") or a near miss ("v3-fma"). */
  readonly target: string;
  /** The level that CPU meets (a near miss meets the level below the one it nearly is). */
  readonly level: LevelName;
  readonly driver: string;
  /** The package name the cell judges, when a cell is one name of a compose (one testcase per name × level × driver): sharding keeps a name's cells together, the HTML report lists cells by it. */
  readonly packageName?: string;
  /** The variant pattern that name ships in ('all-levels', 'v3-only'...): the HTML report groups names by it. */
  readonly pattern?: string;
}

export interface CommandRecord {
  readonly command: string;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly durationMs: number;
  readonly consoleEvents: readonly string[];
  /** Each SIGILL it met, explained in one line: "PACKAGE: FILE+0xOFF: INSTRUCTION needs FEATURE (x86-64-vN); this guest is x86-64-vM". */
  readonly forensics?: readonly string[];
  /** Why the harness ran it: the step's action, a query of its own, or a program it checks. */
  readonly role: 'action' | 'query' | 'program' | 'setup';
}

export type CheckKind = 'outcome' | 'installed' | 'runs' | 'dies' | 'loads' | 'current' | 'updates' | 'detected-arch' | 'runnable' | 'repos' | 'audit';

/**
 * How a failing check differs from what was expected, so a known issue can say
 * exactly which deviation it explains:
 * - installed: `arch` (the expected version in another arch), `older` / `newer` (an older
 *   or newer version than expected), `other-build` (the expected version, another release),
 *   `missing` (nothing installed), `unexpected` (installed where nothing should be, or
 *   another build beside the expected one), `wrong-set` (builds side by side, not the set
 *   expected);
 * - runs / runnable / dies: `sigill`, `signal`, `exit`, `output` (ran, printed something else),
 *   `not-run` (the program is missing), `ran` (dies expected, but it ran), `missing` (the
 *   package is not installed, or no program of the scenario is), `above-level` (the loader
 *   selects a library copy above the CPU);
 * - outcome: `refused` (success expected), `succeeded` (a refusal expected), `wrong-refusal`
 *   (refused for another reason);
 * - current: `stale` (an older version than the newest runnable one), `newer` (a version newer than it);
 * - updates: `not-listed`, `extra-listed`;
 * - detected-arch: `other` (another level), `failed` (the detector ran and failed: non-zero exit,
 *   a signal, no answer, or an arch the level table does not know);
 * - loads: `other`;
 * - audit (gate --audit): `above-level` (code that runs without a CPU check needs more than
 *   the guest it was installed on, or the package could not be audited);
 * - a command that broke its tool's contract (the step's last check; no known issue explains
 *   it): `signal` (killed), `exit` (a status outside the contract), `hung` (killed at its
 *   time limit while the guest still answered).
 */
export type Deviation =
  | 'arch'
  | 'older'
  | 'newer'
  | 'other-build'
  | 'wrong-set'
  | 'missing'
  | 'unexpected'
  | 'sigill'
  | 'signal'
  | 'exit'
  | 'output'
  | 'not-run'
  | 'ran'
  | 'refused'
  | 'succeeded'
  | 'wrong-refusal'
  | 'stale'
  | 'not-listed'
  | 'extra-listed'
  | 'above-level'
  | 'failed'
  | 'hung'
  | 'other';

export interface CheckResult {
  readonly kind: CheckKind;
  /** The package or program the check is about ('' for the step as a whole). */
  readonly subject: string;
  /** One line: "installed lgnewvar". */
  readonly check: string;
  readonly expected: string;
  readonly actual: string;
  readonly status: 'pass' | 'fail' | 'skip';
  /** How it failed (status fail only). */
  readonly deviation?: Deviation;
  /** An outcome check whose command was refused: the reason the tool's message gives ('unrecognised' when none matched). */
  readonly refusal?: string;
  /** Why it was not judged (status skip only). */
  readonly skipReason?: string;
  /** A skip because judging needs a guest that traps (fidelity below `traps`): --require-fidelity and --require-levels make it an error. */
  readonly needs?: 'traps';
  /** Set on a failing check a known issue explains. */
  readonly explainedBy?: string;
}

export interface StepRecord {
  readonly index: number;
  readonly title: string;
  /** The step's kind of action (install, upgrade, repos, move-to...). */
  readonly action: string;
  /** The guest's level while the step ran. */
  readonly level: LevelName;
  readonly commands: readonly CommandRecord[];
  readonly installedBefore: readonly string[];
  readonly installedAfter: readonly string[];
  readonly checks: readonly CheckResult[];
}

/** A known issue as results carry it (the engine's KnownIssue without its matchers). */
export interface KnownIssueRef {
  readonly id: string;
  readonly reason: string;
  readonly tracker: string;
  readonly expires: string;
}

/** What a report needs to know about where a cell ran. */
export interface CellFacts {
  readonly cpu: string;
  readonly accel: string;
  readonly emulator: string;
  readonly fidelity: string;
  readonly imageDigest: string;
  readonly kernel: string;
  /** The package manager and its version in the guest. */
  readonly packageManager: string;
  /** How the cell's guest started: restored from a snapshot of a booted, proven guest, or booted cold. */
  readonly start?: 'snapshot' | 'cold';
  /** A distribution image (--image): its name, its os-release PRETTY_NAME and its glibc (the digest, kernel and package managers are above). */
  readonly image?: { readonly name: string; readonly os: string; readonly glibc: string };
  /** The CPU the cell started on: a level, or a near miss ("v3-fma"). */
  readonly target?: string;
  /** Every level detector's answer on that CPU (the detection oracle): detector → level and its own words. */
  readonly detectors?: readonly DetectorRecord[];
}

/** One detector's answer, as reports show it. */
export interface DetectorRecord {
  /** cpuid, cpuinfo, modalias, glibc, rpm, libzypp, dnf5-arch, dnf5-basearch. */
  readonly detector: string;
  readonly answer: string;
  /** The level the answer means; null: no answer. */
  readonly level: LevelName | null;
  readonly note?: string;
  /** The detector ran and failed: its exit status and output. */
  readonly failure?: string;
}

/** The proof of a guest's level, as reports show it. */
export interface ProofRecord {
  readonly requested: LevelName;
  readonly proven: LevelName | null;
  readonly cpuinfoLevel: LevelName | null;
  readonly glibcLevel: LevelName | null;
  readonly fidelity: string;
  readonly strayFlags: readonly string[];
  readonly canaries: readonly { readonly name: string; readonly level: LevelName; readonly outcome: string; readonly detail: string }[];
}

export interface CellTimings {
  readonly totalMs: number;
  /** Booting or restoring guests, and proving their level. */
  readonly bootMs: number;
  /** The package managers' commands. */
  readonly packageManagerMs: number;
  /** Fixture programs and other programs the checks run. */
  readonly programMs: number;
  /** Everything else: queries, evaluation, disks, teardown. */
  readonly harnessMs: number;
  /** Where part of harnessMs went (absent in results from before they were recorded). */
  readonly harness?: HarnessTimings;
}

/** The cell's durations that are one number each. */
export type CellTimingName = Exclude<keyof CellTimings, 'harness'>;

/** Parts of a cell's harness time, each measured where it is spent. */
export interface HarnessTimings {
  /** The facts' live level detectors, asked in the first guest. */
  readonly detectMs: number;
  /** Clean power-offs before a move or reboot. */
  readonly powerOffMs: number;
  /** Installed-set reads (rpm -qa, dpkg-query, pacman -Q) before and after steps. */
  readonly installedQueryMs: number;
  /** The reproducer of a solver's failure (a stored test case found, or a replay). */
  readonly reproducerMs: number;
}

export interface CellResult extends CellRef {
  readonly verdict: Verdict;
  readonly reason: string;
  /** The live known issues that explained this cell's failing checks (xfail), or matched nothing (xpass). */
  readonly knownIssues: readonly KnownIssueRef[];
  /** Known issues that would cover this cell but have expired: listed in every report. */
  readonly expiredKnownIssues: readonly KnownIssueRef[];
  /** Every live known issue that covers this cell (whether it explained anything here); absent in results from before it was recorded. */
  readonly coveringKnownIssues?: readonly KnownIssueRef[];
  readonly accel?: string;
  readonly proofs: readonly ProofRecord[];
  readonly steps: readonly StepRecord[];
  /** Evidence files: console logs, reproducers. */
  readonly consoleLogs: readonly string[];
  readonly attachments: readonly string[];
  readonly timings: CellTimings;
  readonly facts?: CellFacts;
  /** The one-line command that runs this cell again, alone, with live output. */
  readonly repro: string;
  /** 1, or more when an emulator error was retried. */
  readonly attempts: number;
  /** An emulator error (guest death, boot timeout, lost agent) happened and a retry settled the cell. */
  readonly flaky: boolean;
  /** On an error: the emulator's (retried) or the harness's (not retried). */
  readonly errorSource?: 'emulator' | 'harness';
  /** The attempts before the last one, each with its own evidence (the last attempt is the cell itself). */
  readonly earlierAttempts?: readonly AttemptRecord[];
  /** A compose audit's cell: the variant pattern its name belongs to (a generated compose's, else the arches it is built in, or glibc-hwcaps), for grouping reports. */
  readonly pattern?: string;
}

/** One attempt of a cell that was retried. */
export interface AttemptRecord {
  readonly attempt: number;
  readonly verdict: Verdict;
  readonly reason: string;
  readonly consoleLogs: readonly string[];
  readonly attachments: readonly string[];
}

export interface RunResult {
  readonly tool: 'levelgate';
  readonly startedAt: string;
  readonly durationMs: number;
  /** Stopped by Ctrl-C or SIGTERM: cells not run are listed as skipped "not run". */
  readonly interrupted: boolean;
  readonly hostname: string;
  readonly image: string;
  readonly fixtures: string;
  /** "2/4" when this run is one shard of several; absent for a merged or whole run. */
  readonly shard?: string;
  readonly workers: number;
  readonly counts: Readonly<Record<Verdict, number>>;
  /** Cells a retry settled after an emulator error (`--fail-on-flaky` makes any exit 1). */
  readonly flaky: number;
  /** Every expired known issue some cell of the run would have used. */
  readonly expiredKnownIssues: readonly KnownIssueRef[];
  /** Live known issues that covered cells of the run and explained no check in any of them: listed in every report (narrow or remove them). */
  readonly idleKnownIssues?: readonly KnownIssueRef[];
  /** The CPU targets (levels, near misses) the plan asked for that this host cannot provide. */
  readonly unavailableLevels: readonly { readonly level: string; readonly reason: string }[];
  /** CPU targets that run under a slower backend because a faster one's probe did not answer definitively (timed out, panicked). */
  readonly slowerBackends?: readonly { readonly level: string; readonly backend: string; readonly reason: string }[];
  readonly cells: readonly CellResult[];
}
