// The one entry point that boots a guest outside a run: from "a level" to "a booted
// guest that proved it" (the cached image, the accelerator the probes allow placed on the
// host's backend table, the guest itself, restored from the level's snapshot where asked
// and possible, else booted). A level no accelerator provides is a LevelUnavailableError
// (a skip), never a guest at another level.
import { BACKENDS, type BackendTable } from './backends.js';
import { chooseAccel } from './choose.js';
import { Placer, type Placed, type Placement } from './placement.js';
import { type AccelRequest } from '../model/accel.js';
import { hostStretch } from '../model/limits.js';
import { probeForRequest } from './probe.js';
import { ensureImage, type ImageArtifacts } from '../image/build.js';
import type { LevelName } from '../levels/table.js';
import { exactTarget, type CpuTarget } from '../levels/targets.js';
import { LevelUnavailableError } from '../util/errors.js';
import { restoreOrRebuild } from './restore.js';
import { silentLog, type Log } from '../util/log.js';
import type { AgentGuest } from '../guest/agent-guest.js';
import type { GuestBootOptions } from '../guest/guest.js';

export interface PinnedGuestRequest extends Omit<GuestBootOptions, 'image'> {
  readonly accel: AccelRequest;
  readonly image?: ImageArtifacts;
  readonly log?: Log;
  /**
   * Restore the level's snapshot of a booted, proven guest (made once and cached; the
   * restored guest is proven again, live) instead of booting: where the backend has
   * snapshots and the guest needs nothing a snapshot's device layout lacks (data disks,
   * a disk of its own, another CPU name). Default: boot.
   */
  readonly snapshot?: boolean;
}

/** Where a guest at `cpu` runs outside a run: the probes' choice placed on `backends` (default the host's) at the host's load now. */
export async function placePinned(cpu: LevelName | CpuTarget, request: AccelRequest, image: ImageArtifacts, backends: BackendTable = BACKENDS): Promise<Placement> {
  const target = typeof cpu === 'string' ? exactTarget(cpu) : cpu;
  const choice = chooseAccel(target.name, request, await probeForRequest(request, [target], image));
  return new Placer({ choose: () => choice, backends, stretch: hostStretch() }).at(target.name);
}

export async function openPinnedGuest(request: PinnedGuestRequest): Promise<{ guest: AgentGuest; choice: Placed; start: 'snapshot' | 'cold' }> {
  const log = request.log ?? silentLog;
  const image = request.image ?? (await ensureImage({ log, ...(request.signal ? { signal: request.signal } : {}) }));
  const choice = await placePinned(request.target ?? request.level, request.accel, image);
  if (choice.accel === null) throw new LevelUnavailableError(choice.skipReason);
  const { accel: _accel, log: _log, image: _image, snapshot: wantSnapshot, ...rest } = request;
  const snapshots = choice.backend.snapshots;
  const fits = !rest.dataDisks?.length && !rest.dataFolders?.length && !rest.disk && !rest.cpu && !rest.memoryMiB && !rest.extraKernelArgs?.length;
  if (!wantSnapshot || !snapshots || !fits) return { guest: await choice.backend.boot({ ...rest, image }), choice, start: 'cold' };
  const target = request.target ?? exactTarget(request.level);
  const ensure = (rebuild: boolean) =>
    snapshots.ensure({
      image,
      target,
      dataDisks: [],
      options: { log, ...(rest.signal ? { signal: rest.signal } : {}), ...(rest.bootTimeoutMs ? { bootTimeoutMs: rest.bootTimeoutMs } : {}), ...(rebuild ? { rebuild } : {}) },
    });
  const guest = await restoreOrRebuild(await ensure(false), {
    target: target.name,
    restore: (snapshot) => snapshot.restore({ ...rest, image }),
    rebuild: () => ensure(true),
    log: (line) => log(`levelgate: ${line}`),
    ...(rest.signal ? { signal: rest.signal } : {}),
  });
  return { guest, choice, start: 'snapshot' };
}
