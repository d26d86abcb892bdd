// A cell's guests from a full-distribution image (--image): the first guest of every
// cell is restored from the image's snapshot at the cell's level (booted, settled,
// inspected and proven once per image and level); later boots of the cell's disk (a move
// to an older CPU, a reboot) boot it cold through the image's own bootloader. Beside
// BackendGuests (session.ts), which does the same for the default guest.
import path from 'node:path';
import { BACKENDS } from '../accel/backends.js';
import type { Accel } from '../model/accel.js';
import { bootsImages, imageBackend, type ImageBackend } from '../accel/image-backend.js';
import { imageBootMs } from '../guest/distribution-machine.js';
import type { CloudSnapshot } from '../guest/cloud-snapshot.js';
import type { DataDisk } from '../model/guest.js';
import type { QemuAccel } from '../model/accel.js';
import type { CloudImage, ImageFacts } from '../image/cloud/inspect.js';
import type { CloudSupport } from '../image/cloud/support.js';
import type { LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import { GuestError, InterruptedError, LevelProofError } from '../util/errors.js';
import type { Log } from '../util/log.js';
import { AgentSession, type CellGuests, type CellSession, type SessionRequest } from './session.js';

export interface ImageGuestsOptions {
  readonly image: CloudImage;
  readonly support: CloudSupport;
  readonly dataDisks: readonly DataDisk[];
  /** Restore each cell's first guest from a snapshot (default); false boots every cell cold (the image's facts still come from one snapshot boot). */
  readonly snapshots: boolean;
  readonly log?: Log;
  readonly signal?: AbortSignal;
}

function qemuAccel(accel: Accel, image: CloudImage): QemuAccel {
  if (!bootsImages(accel)) throw new GuestError(`image ${image.name} cannot run under ${BACKENDS[accel].title}`, { hint: 'levels that only Bochs provides on this host are skipped for distribution images' });
  return accel;
}

export class ImageGuests implements CellGuests {
  readonly #options: ImageGuestsOptions;
  readonly #snapshots = new Map<string, Promise<CloudSnapshot>>();

  constructor(options: ImageGuestsOptions) {
    this.#options = options;
  }

  backend(accel: Accel): ImageBackend {
    return imageBackend(this.#options.image, this.#options.support, qemuAccel(accel, this.#options.image));
  }

  /** The image's snapshot at `level` (made or loaded once per run). */
  snapshot(level: LevelName, accel: Accel, bootTimeoutMs?: number, rebuild = false): Promise<CloudSnapshot> {
    const key = `${accel}/${level}`;
    let snapshot = rebuild ? undefined : this.#snapshots.get(key);
    if (!snapshot) {
      const { dataDisks, log, signal } = this.#options;
      const options = { ...(log ? { log } : {}), ...(signal ? { signal } : {}), ...(bootTimeoutMs ? { bootTimeoutMs } : {}), ...(rebuild ? { rebuild } : {}) };
      const ensure = () => this.backend(accel).snapshots.ensure(level, dataDisks, options);
      // A loaded host can make a kernel's boot-time timer check fail ("IO-APIC + timer
      // doesn't work!", a panic): the image's command line is its own, so that boot is tried once more.
      snapshot = ensure().catch((error: unknown) => {
        if (signal?.aborted || !(error instanceof GuestError) || !/panicked/.test(error.message)) throw error;
        log?.(`image ${this.#options.image.name}: the ${level} boot ${error.message.split('\n')[0]}; booting it once more`);
        return ensure();
      });
      this.#snapshots.set(key, snapshot);
      snapshot.catch(() => this.#snapshots.delete(key));
    }
    return snapshot;
  }

  /** What the image is (os-release, kernel, glibc, package managers): read in the boot that made the first level's snapshot. */
  async facts(levels: readonly { level: LevelName; accel: Accel | null }[]): Promise<ImageFacts> {
    const first = levels.find((l) => l.accel !== null && bootsImages(l.accel));
    if (!first) throw new GuestError(`no level of this run can boot image ${this.#options.image.name} (it runs under QEMU only)`);
    return (await this.snapshot(first.level, first.accel!)).facts;
  }

  /**
   * Makes (or finds) the snapshots of these targets' levels before the first cell needs
   * them, two at a time. A distribution image is pinned at exact levels only: its near
   * misses are returned as unusable, with the reason.
   */
  async prepare(targets: readonly { target: CpuTarget; accel: Accel | null }[]): Promise<Map<string, string>> {
    const unusable = new Map<string, string>();
    for (const { target } of targets) {
      if (target.nearMiss) unusable.set(target.name, `near-miss CPUs run the default guest only: image ${this.#options.image.name} is pinned at exact levels`);
    }
    if (!this.#options.snapshots) return unusable;
    const wanted = targets.filter((t): t is { target: CpuTarget; accel: QemuAccel } => !t.target.nearMiss && t.accel !== null && bootsImages(t.accel));
    for (let i = 0; i < wanted.length; i += 2) await Promise.all(wanted.slice(i, i + 2).map(({ target, accel }) => this.snapshot(target.level, accel)));
    return unusable;
  }

  async open(request: SessionRequest): Promise<CellSession> {
    const { dataDisks, log } = this.#options;
    const first = this.backend(request.firstAccel);
    // A distribution's boot takes its own limit, stretched as the run's are.
    const bootTimeoutMs = (_accel: Accel) => imageBootMs(request.stretch);
    const base = path.join(request.scratch, 'disk');
    const bootOptions = (level: LevelName, accel: Accel, consoleLog: string, disk: string) => ({
      level,
      disk,
      dataDisks,
      consoleLog,
      bootTimeoutMs: bootTimeoutMs(accel),
      ...(request.shell ? { shell: true } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
    });
    let snapshot = this.#options.snapshots ? await this.snapshot(request.target.level, request.firstAccel, bootTimeoutMs(request.firstAccel)) : undefined;
    let disk = snapshot ? await first.snapshots.newDiskState(snapshot, base, request.signal) : await first.newDiskState(base, request.signal);
    const common = {
      evidenceDir: request.evidenceDir,
      ...(request.detectors ? { detectors: request.detectors } : {}),
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onGuest ? { onGuest: request.onGuest } : {}),
      boot: (level: LevelName, consoleLog: string) => {
        const accel = request.accelAt(level);
        return this.backend(accel).boot(bootOptions(level, accel, consoleLog, disk));
      },
    };
    if (!snapshot) return new AgentSession({ ...common, start: 'cold', first: common.boot });
    return new AgentSession({
      ...common,
      start: 'snapshot',
      bootConsole: snapshot.bootConsole,
      initialInstalled: snapshot.installed,
      first: async (level, consoleLog) => {
        try {
          return await first.snapshots.restore(snapshot!, bootOptions(level, request.firstAccel, consoleLog, disk));
        } catch (error) {
          if (request.signal?.aborted || error instanceof InterruptedError || !(error instanceof GuestError || error instanceof LevelProofError)) throw error;
          log?.(`snapshot ${snapshot!.key} of image ${this.#options.image.name} (${level}) did not restore (${error.message}); rebuilding it`);
          await first.snapshots.discard(snapshot!);
          snapshot = await this.snapshot(level, request.firstAccel, bootTimeoutMs(request.firstAccel), true);
          disk = await first.snapshots.newDiskState(snapshot, `${base}-2`, request.signal);
          return first.snapshots.restore(snapshot, bootOptions(level, request.firstAccel, consoleLog, disk));
        }
      },
    });
  }
}
