// A cell's guests: one disk, booted at one level at a time. The first guest starts the
// cell; a move to another CPU or a reboot powers it off cleanly and boots the same disk
// again. The session keeps what reports need: each boot's proof, console log and time.
import type { GuestCommand } from '../model/guest.js';
import path from 'node:path';
import type { Backend, Snapshot } from '../accel/backend.js';
import type { ImageFacts } from '../image/cloud/inspect.js';
import { exactTarget } from '../levels/targets.js';
import { BACKENDS, type BackendTable } from '../accel/backends.js';
import { restoreOrRebuild } from '../accel/restore.js';
import type { Accel } from '../model/accel.js';
import type { AgentGuest } from '../guest/agent-guest.js';
import type { GuestBootOptions } from '../guest/guest.js';
import type { DataDisk } from '../model/guest.js';
import type { ImageArtifacts } from '../image/build.js';
import { errorMessage, GuestError, InitKilledError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import type { LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import type { ProofRecord } from '../results/types.js';
import { askDetectors, type DetectorName, type DetectorReading } from '../drivers/detectors.js';
import { DEFAULTS } from '../model/defaults.js';
import type { GuestSession } from './program.js';
import type { CellExecOptions, CellGuest, ExecResult } from '../model/guest.js';

/** A cell's guests as the cell runner sees them: the session, plus what reports need. */
export interface CellSession extends GuestSession {
  readonly proofs: readonly ProofRecord[];
  readonly consoleLogs: readonly string[];
  /** Time spent booting or restoring guests and proving their level. */
  readonly bootMs: number;
  /** Time spent asking the facts' detectors, and powering guests off before a move or reboot (absent: not measured). */
  readonly detectMs?: number;
  readonly powerOffMs?: number;
  /** Facts of the first guest (CPU, accelerator, emulator...), once one runs. */
  readonly facts?: GuestFactsRecord;
  /** The running agent guest, for repro --keep (absent for fakes). */
  readonly guest?: AgentGuest;
  /** The installed set the first guest starts with, when known without asking it (a snapshot's). */
  readonly initialInstalled?: readonly string[];
  start(level: LevelName): Promise<CellGuest>;
  dispose(): Promise<void>;
}

/** What a cell records about its first guest. */
export interface GuestFactsRecord {
  readonly cpu: string;
  readonly accel: string;
  readonly emulator: string;
  readonly fidelity: string;
  readonly start: 'snapshot' | 'cold';
  /** The answers of the level detectors the cell asked (SessionRequest.detectors) on the first guest's CPU. */
  readonly detectors: readonly DetectorReading[];
}

export interface SessionOptions {
  /** Starts the cell's first guest (a restore from a snapshot, or a boot). */
  readonly first: (level: LevelName, consoleLog: string) => Promise<AgentGuest>;
  /** Boots the cell's disk at `level` (a move to another CPU, a reboot). */
  readonly boot: (level: LevelName, consoleLog: string) => Promise<AgentGuest>;
  /** How the first guest starts, for the reports. */
  readonly start: 'snapshot' | 'cold';
  /** Evidence of the first guest's boot when it is not in this session's logs (the snapshot's boot console). */
  readonly bootConsole?: string;
  /** The installed set of the first guest, when known (a snapshot's). */
  readonly initialInstalled?: readonly string[];
  /** Where console logs go. */
  readonly evidenceDir: string;
  /** The detectors asked live in the first guest for the facts (default every one). */
  readonly detectors?: readonly DetectorName[];
  readonly signal?: AbortSignal;
  readonly onGuest?: (guest: AgentGuest) => void;
}

export class AgentSession implements CellSession {
  readonly proofs: ProofRecord[] = [];
  readonly consoleLogs: string[] = [];
  bootMs = 0;
  detectMs = 0;
  powerOffMs = 0;
  facts: GuestFactsRecord | undefined;
  #guest: AgentGuest | undefined;
  readonly #options: SessionOptions;

  constructor(options: SessionOptions) {
    this.#options = options;
  }

  /** The guest running now, if any (repro --keep attaches to it). */
  get guest(): AgentGuest | undefined {
    return this.#guest;
  }

  get initialInstalled(): readonly string[] | undefined {
    return this.#options.initialInstalled;
  }

  async start(level: LevelName): Promise<CellGuest> {
    if (this.#options.bootConsole) this.consoleLogs.push(this.#options.bootConsole);
    return this.#boot(level, this.#options.first);
  }

  current(): CellGuest {
    if (!this.#guest) throw new Error('no guest is running');
    return adapt(this.#guest, this.#options.signal);
  }

  async bootAt(level: LevelName): Promise<CellGuest> {
    const previous = this.#guest;
    if (previous) {
      this.#guest = undefined;
      const started = performance.now();
      try {
        await previous.powerOff();
      } finally {
        await previous.dispose();
        this.powerOffMs += performance.now() - started;
      }
    }
    return this.#boot(level, this.#options.boot);
  }

  async dispose(): Promise<void> {
    const guest = this.#guest;
    this.#guest = undefined;
    await guest?.dispose();
  }

  async #boot(level: LevelName, how: SessionOptions['boot']): Promise<CellGuest> {
    const started = performance.now();
    const consoleLog = path.join(this.#options.evidenceDir, `console-${this.consoleLogs.length + 1}-${level}.log`);
    this.consoleLogs.push(consoleLog);
    const guest = await how(level, consoleLog);
    this.#guest = guest;
    this.bootMs += performance.now() - started;
    this.proofs.push(proofRecord(guest));
    if (!this.facts) this.facts = await this.#factsOf(guest);
    this.#options.onGuest?.(guest);
    return adapt(guest, this.#options.signal);
  }

  /** The first guest's facts, its detectors asked live (timed: detectMs). */
  async #factsOf(guest: AgentGuest): Promise<GuestFactsRecord> {
    const started = performance.now();
    const facts: GuestFactsRecord = {
      cpu: guest.facts.cpu,
      accel: guest.facts.accel,
      emulator: `${guest.facts.emulator} ${guest.facts.emulatorVersion}`,
      fidelity: guest.proof.fidelity,
      start: this.#options.start,
      // Asked live in every cell, restored or not: a snapshot's answers are the saved guest's, not this CPU's.
      detectors: await askDetectors((argv, timeoutMs) => guest.exec(argv, { timeoutMs, ...(this.#options.signal ? { signal: this.#options.signal } : {}) }), DEFAULTS.commandTimeoutMs, this.#options.detectors),
    };
    this.detectMs += performance.now() - started;
    return facts;
  }
}

export function proofRecord(guest: AgentGuest): ProofRecord {
  const p = guest.proof;
  return {
    requested: p.requested,
    proven: p.proven,
    cpuinfoLevel: p.cpuinfoLevel,
    glibcLevel: p.glibcLevel,
    fidelity: p.fidelity,
    strayFlags: p.strayFlags,
    canaries: p.canaries.map((c) => ({ name: c.name, level: c.level, outcome: c.outcome, detail: c.detail })),
  };
}

function adapt(guest: AgentGuest, signal?: AbortSignal): CellGuest {
  return {
    level: guest.facts.requestedLevel,
    fidelity: guest.proof.fidelity,
    exec: async (argv: readonly string[], options: CellExecOptions): Promise<ExecResult> =>
      guest.exec(argv, {
        timeoutMs: options.timeoutMs,
        ...(options.env ? { env: { ...options.env } } : {}),
        ...(options.input !== undefined ? { input: options.input } : {}),
        ...(options.onStdout ? { onStdout: options.onStdout } : {}),
        ...(options.onStderr ? { onStderr: options.onStderr } : {}),
        ...(signal ? { signal } : {}),
      }),
  };
}


/**
 * Why the image cannot run on a near-miss CPU, when its init died there of the one known
 * cause: v3-bmi1 (BMI2 without BMI1) under QEMU TCG, which checks CPUID BMI1 for BZHI (a
 * BMI2 instruction glibc's AVX2 string functions use), so the static busybox init traps.
 * Undefined for any other failure: another init death is not explained, and is an error
 * with its console evidence.
 */
export function imageCannotRun(target: CpuTarget, accel: Accel, error: unknown): string | undefined {
  if (!(error instanceof InitKilledError) || target.nearMiss?.missing.psabi !== 'BMI1' || target.nearMiss.by === 'os' || accel !== 'tcg' || error.signal !== 'SIGILL') return undefined;
  return `the guest image's init dies of SIGILL on ${target.name}: QEMU's TCG traps BZHI (BMI2) when BMI1 is absent, and glibc's AVX2 string functions in the image's static init use it (${error.message})`;
}

/** What the cell runner asks for: a session for its one disk. */
export interface SessionRequest {
  /** The accelerator of the cell's first CPU; the disk state is made for it. */
  readonly firstAccel: Accel;
  /** The CPU the cell starts on (an exact level or a near miss); later boots are at exact levels. */
  readonly target: CpuTarget;
  /** The accelerator for each level the cell boots at. */
  readonly accelAt: (level: LevelName) => Accel;
  /** The boot (or restore) limit of a guest on each accelerator, resolved with the cell's placement (accel/placement.ts). */
  readonly bootMs: Readonly<Partial<Record<Accel, number>>>;
  readonly evidenceDir: string;
  /** The detectors the facts record, asked live in the first guest (default every one; drivers/detectors.ts factDetectors). */
  readonly detectors?: readonly DetectorName[];
  /** The cell's scratch directory (its disk state goes here; removed after the cell). */
  readonly scratch: string;
  readonly signal?: AbortSignal;
  readonly shell?: boolean;
  readonly onGuest?: (guest: AgentGuest) => void;
}

/** A CPU target whose snapshot a guest source makes before the first cell, and that boot's limit (accel/placement.ts snapshotBootMs). */
export interface PreparedTarget {
  readonly target: CpuTarget;
  readonly accel: Accel | null;
  readonly bootMs?: number;
}

/** Where cells get their guests: real ones here; unit tests give fakes. */
export interface CellGuests {
  open(request: SessionRequest): Promise<CellSession>;
}

export interface GuestSourceOptions {
  readonly image: ImageArtifacts;
  /** The read-only data disks every guest gets (fixture and attached repositories). */
  readonly dataDisks: readonly DataDisk[];
  /** Restore each cell's first guest from a snapshot where the backend has them (default); else boot cold. */
  readonly snapshots: boolean;
  /** Run in a guest before it is saved (page cache, package-manager caches). */
  readonly warmUp?: readonly GuestCommand[];
  /**
   * Run after `warmUp`, in guests of backends that emulate with QEMU only: the fixture
   * repositories' solver caches. Under Bochs, building every fixture repository's cache
   * at snapshot time was not measured, so its snapshots do without.
   */
  readonly cacheWarmUp?: readonly GuestCommand[];
  /** Every guest's memory, snapshots' included (default: each backend's). */
  readonly memoryMiB?: number;
  /** The backend table (default BACKENDS: the host's emulators). */
  readonly backends?: BackendTable;
  readonly log?: Log;
  readonly signal?: AbortSignal;
}

/**
 * Real guests from a backend table: the host's (levelgate's own guest), or a distribution
 * image's (accel/image-backend.ts: the same records, another machine). With snapshots, the first guest of every cell is
 * restored from its level's snapshot (made once per run, or found in the cache) on a
 * disk state of its own; later boots (a move to another CPU, a reboot) boot that disk
 * cold. A snapshot that fails to restore is discarded, rebuilt and tried once more.
 */
export class BackendGuests implements CellGuests {
  readonly #options: GuestSourceOptions;
  readonly #snapshots = new Map<string, Promise<Snapshot>>();
  readonly #backends: BackendTable;

  constructor(options: GuestSourceOptions) {
    this.#options = options;
    this.#backends = options.backends ?? BACKENDS;
  }

  /** The backend of `accel` in this source's table. */
  backend(accel: Accel): Backend {
    return this.#backends[accel];
  }

  /** The snapshot for `target` under `accel` (made or loaded once per run); undefined where the backend has none or snapshots are off. */
  snapshot(target: CpuTarget, accel: Accel, bootTimeoutMs?: number, rebuild = false): Promise<Snapshot> | undefined {
    return this.#options.snapshots ? this.#ensure(target, accel, bootTimeoutMs, rebuild) : undefined;
  }

  #ensure(target: CpuTarget, accel: Accel, bootTimeoutMs?: number, rebuild = false): Promise<Snapshot> | undefined {
    const support = this.#backends[accel].snapshots;
    if (!support) return undefined;
    const key = `${accel}/${target.name}`;
    let snapshot = rebuild ? undefined : this.#snapshots.get(key);
    if (!snapshot) {
      const { image, dataDisks, memoryMiB, log, signal } = this.#options;
      const warmUp = [...(this.#options.warmUp ?? []), ...(this.#backends[accel].emulator === 'QEMU' ? (this.#options.cacheWarmUp ?? []) : [])];
      snapshot = support.ensure({
        image,
        target,
        dataDisks,
        ...(warmUp.length > 0 ? { warmUp } : {}),
        ...(memoryMiB ? { memoryMiB } : {}),
        options: { ...(log ? { log } : {}), ...(signal ? { signal } : {}), ...(bootTimeoutMs ? { bootTimeoutMs } : {}), ...(rebuild ? { rebuild } : {}) },
      });
      this.#snapshots.set(key, snapshot);
      snapshot.catch(() => this.#snapshots.delete(key));
    }
    return snapshot;
  }

  /**
   * What the machine is, as the snapshot of the first level it can run at recorded it (a
   * distribution image's os-release, kernel, glibc, package managers): made even when
   * cells boot cold. Undefined where no level can run it or the snapshot records none.
   */
  async facts(levels: readonly { level: LevelName; accel: Accel | null }[]): Promise<ImageFacts | undefined> {
    const first = levels.find((l) => l.accel !== null && !this.#backends[l.accel].unusable?.(exactTarget(l.level)));
    return first ? (await this.#ensure(exactTarget(first.level), first.accel!))?.facts : undefined;
  }

  /**
   * Makes (or finds) the snapshots of these CPUs before the first cell needs them, two
   * at a time. Returns the CPUs the machine cannot run on, with why: those its backend
   * refuses (a distribution image at a near miss), and the near misses this image cannot
   * run on (its init dies of SIGILL there): those CPUs are unavailable, not broken.
   */
  async prepare(targets: readonly PreparedTarget[]): Promise<Map<string, string>> {
    const unusable = new Map<string, string>();
    for (const { target, accel } of targets) {
      const why = accel === null ? undefined : this.#backends[accel].unusable?.(target);
      if (why) unusable.set(target.name, why);
    }
    const wanted = targets.filter((t): t is PreparedTarget & { accel: Accel } => t.accel !== null && !unusable.has(t.target.name));
    const atOnce = DEFAULTS.snapshotBootsAtOnce;
    for (let i = 0; i < wanted.length; i += atOnce) {
      await Promise.all(
        wanted.slice(i, i + atOnce).map(async ({ target, accel, bootMs }) => {
          try {
            await this.snapshot(target, accel, bootMs);
          } catch (error) {
            const why = imageCannotRun(target, accel, error);
            // Another init death is left to the target's cells: each is an error with the console evidence.
            if (why === undefined && error instanceof InitKilledError) return this.#options.log?.(`${target.name}: ${errorMessage(error)}`);
            if (why === undefined) throw error;
            unusable.set(target.name, why);
            this.#options.log?.(`${target.name}: ${why}`);
          }
        }),
      );
    }
    return unusable;
  }

  async open(request: SessionRequest): Promise<CellSession> {
    const { image, dataDisks } = this.#options;
    const first = this.#backends[request.firstAccel];
    const refused = first.unusable?.(request.target);
    if (refused) throw new GuestError(refused);
    const base = path.join(request.scratch, 'disk');
    const bootOptions = (level: LevelName, accel: Accel, consoleLog: string, disk: string, target?: CpuTarget): GuestBootOptions => ({
      image,
      level,
      ...(target?.nearMiss ? { target } : {}),
      disk,
      dataDisks,
      consoleLog,
      bootTimeoutMs: request.bootMs[accel],
      ...(this.#options.memoryMiB ? { memoryMiB: this.#options.memoryMiB } : {}),
      ...(request.shell ? { shell: true } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
    const { target } = request;
    const snapshot = await this.snapshot(target, request.firstAccel, request.bootMs[request.firstAccel]);
    let disk = snapshot ? await snapshot.newDiskState(base, request.signal) : await first.newDiskState(image, base, request.signal);
    const common = {
      evidenceDir: request.evidenceDir,
      ...(request.detectors ? { detectors: request.detectors } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onGuest ? { onGuest: request.onGuest } : {}),
      // A boot at the level the cell's CPU meets is on that CPU again: a near miss reboots as the near miss.
      boot: (level: LevelName, consoleLog: string) => {
        const accel = request.accelAt(level);
        return this.#backends[accel].boot(bootOptions(level, accel, consoleLog, disk, level === target.level ? target : undefined));
      },
    };
    const coldFirst = (level: LevelName, consoleLog: string) => this.#backends[request.firstAccel].boot(bootOptions(level, request.firstAccel, consoleLog, disk, target));
    if (!snapshot) return new AgentSession({ ...common, start: 'cold', first: coldFirst });
    return new AgentSession({
      ...common,
      start: 'snapshot',
      bootConsole: snapshot.bootConsole,
      initialInstalled: snapshot.installed,
      first: (level, consoleLog) =>
        restoreOrRebuild(snapshot, {
          target: target.name,
          restore: async (made, rebuilt) => {
            if (rebuilt) disk = await made.newDiskState(`${base}-2`, request.signal);
            return made.restore(bootOptions(level, request.firstAccel, consoleLog, disk, target));
          },
          rebuild: () => this.snapshot(target, request.firstAccel, request.bootMs[request.firstAccel], true)!,
          ...(this.#options.log ? { log: this.#options.log } : {}),
          ...(request.signal ? { signal: request.signal } : {}),
        }),
    });
  }
}
