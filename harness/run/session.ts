// A cell's guests: one disk, booted at one level at a time. The first guest starts the
// cell; a move to another CPU or a reboot powers it off cleanly and boots the same disk
// again. The session keeps what reports need: each boot's proof, console log and time.
import path from 'node:path';
import type { Accel } from '../accel/choose.js';
import type { AgentGuest } from '../guest/agent-guest.js';
import { bootGuest, newDiskState } from '../guest/boot-guest.js';
import type { DataDisk } from '../guest/qemu-args.js';
import type { ImageArtifacts } from '../image/build.js';
import type { LevelName } from '../levels/table.js';
import type { ProofRecord } from '../results/types.js';
import type { CellExecOptions, CellGuest, ExecResult, GuestSession } from './interpreter.js';

/** A cell's guests as the cell runner sees them: the session, plus what reports need. */
export interface CellSession extends GuestSession {
  readonly proofs: readonly ProofRecord[];
  readonly consoleLogs: readonly string[];
  /** Time spent booting or restoring guests and proving their level. */
  readonly bootMs: number;
  /** Facts of the first guest (CPU, accelerator, emulator...), once one runs. */
  readonly facts?: GuestFactsRecord;
  /** The running agent guest, for repro --keep (absent for fakes). */
  readonly guest?: AgentGuest;
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
}

export interface SessionOptions {
  /** Boots the cell's disk at `level`, its console written to `consoleLog`. */
  readonly boot: (level: LevelName, consoleLog: string) => Promise<AgentGuest>;
  /** Where console logs go. */
  readonly evidenceDir: string;
  readonly signal?: AbortSignal;
  readonly onGuest?: (guest: AgentGuest) => void;
}

export class AgentSession implements CellSession {
  readonly proofs: ProofRecord[] = [];
  readonly consoleLogs: string[] = [];
  bootMs = 0;
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

  async start(level: LevelName): Promise<CellGuest> {
    return this.#boot(level);
  }

  current(): CellGuest {
    if (!this.#guest) throw new Error('no guest is running');
    return adapt(this.#guest, this.#options.signal);
  }

  async bootAt(level: LevelName): Promise<CellGuest> {
    const previous = this.#guest;
    if (previous) {
      this.#guest = undefined;
      try {
        await previous.powerOff();
      } finally {
        await previous.dispose();
      }
    }
    return this.#boot(level);
  }

  async dispose(): Promise<void> {
    const guest = this.#guest;
    this.#guest = undefined;
    await guest?.dispose();
  }

  async #boot(level: LevelName): Promise<CellGuest> {
    const started = performance.now();
    const consoleLog = path.join(this.#options.evidenceDir, `console-${this.consoleLogs.length + 1}-${level}.log`);
    this.consoleLogs.push(consoleLog);
    const guest = await this.#options.boot(level, consoleLog);
    this.#guest = guest;
    this.bootMs += performance.now() - started;
    this.proofs.push(proofRecord(guest));
    this.facts ??= {
      cpu: guest.facts.cpu,
      accel: guest.facts.accel,
      emulator: `${guest.facts.backend === 'bochs' ? 'Bochs' : 'QEMU'} ${guest.facts.emulatorVersion}`,
      fidelity: guest.proof.fidelity,
      start: 'cold',
    };
    this.#options.onGuest?.(guest);
    return adapt(guest, this.#options.signal);
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
        ...(options.input !== undefined ? { input: options.input } : {}),
        ...(options.onStdout ? { onStdout: options.onStdout } : {}),
        ...(options.onStderr ? { onStderr: options.onStderr } : {}),
        ...(signal ? { signal } : {}),
      }),
  };
}

/** What the cell runner asks for: a session for its one disk. */
export interface SessionRequest {
  /** The accelerator of the cell's first level; the disk state is made for it. */
  readonly firstAccel: Accel;
  /** The accelerator for each level the cell boots at. */
  readonly accelAt: (level: LevelName) => Accel;
  /** Boot limit per accelerator (already scaled by load). */
  readonly bootTimeoutMs: (accel: Accel) => number;
  readonly evidenceDir: string;
  /** The cell's scratch directory (its disk state goes here; removed after the cell). */
  readonly scratch: string;
  readonly signal?: AbortSignal;
  readonly shell?: boolean;
  readonly onGuest?: (guest: AgentGuest) => void;
}

/** Where cells get their guests: real ones here; unit tests give fakes. */
export interface CellGuests {
  open(request: SessionRequest): Promise<CellSession>;
}

/** Cold-booted guests of `image`, each cell on a disk state of its own, with the run's data disks attached. */
export function bootedGuests(image: ImageArtifacts, dataDisks: readonly DataDisk[]): CellGuests {
  return {
    async open(request) {
      const disk = await newDiskState(request.firstAccel, image, path.join(request.scratch, 'disk'), request.signal);
      return new AgentSession({
        evidenceDir: request.evidenceDir,
        ...(request.signal ? { signal: request.signal } : {}),
        ...(request.onGuest ? { onGuest: request.onGuest } : {}),
        boot: (level, consoleLog) => {
          const accel = request.accelAt(level);
          return bootGuest({
            image,
            level,
            accel,
            disk,
            dataDisks,
            consoleLog,
            bootTimeoutMs: request.bootTimeoutMs(accel),
            ...(request.shell ? { shell: true } : {}),
            ...(request.signal ? { signal: request.signal } : {}),
          });
        },
      });
    },
  };
}
