// The one entry point that boots a guest outside a run: from "a level" to "a booted
// guest that proved it" (the cached image, the accelerator the probes allow, the guest
// itself), or on a given accelerator, which the backend table lowers. A level no
// accelerator provides is a LevelUnavailableError (a skip), never a guest at another level.
import { BACKENDS } from '../accel/backends.js';
import { chooseAccel, type Accel, type AccelChoice, type AccelRequest } from '../accel/choose.js';
import { probeForRequest } from '../accel/probe.js';
import { ensureImage, type ImageArtifacts } from '../image/build.js';
import type { LevelName } from '../levels/table.js';
import { exactTarget, type CpuTarget } from '../levels/targets.js';
import { LevelUnavailableError } from '../util/errors.js';
import { silentLog, type Log } from '../util/log.js';
import type { AgentGuest } from './agent-guest.js';
import type { GuestBootOptions } from './guest.js';

export interface GuestOptions extends GuestBootOptions {
  readonly accel: Accel;
}

/** Boots a guest on `accel`: the backend table lowers it. */
export function bootGuest(options: GuestOptions): Promise<AgentGuest> {
  const { accel, ...rest } = options;
  return BACKENDS[accel].boot(rest);
}

export interface PinnedGuestRequest extends Omit<GuestOptions, 'image' | 'accel'> {
  readonly accel: AccelRequest;
  readonly image?: ImageArtifacts;
  readonly log?: Log;
}

export async function resolveAccelChoice(cpu: LevelName | CpuTarget, request: AccelRequest, image: ImageArtifacts): Promise<AccelChoice> {
  const target = typeof cpu === 'string' ? exactTarget(cpu) : cpu;
  return chooseAccel(target.name, request, await probeForRequest(request, [target], image));
}

export async function openPinnedGuest(request: PinnedGuestRequest): Promise<{ guest: AgentGuest; choice: AccelChoice & { accel: Accel } }> {
  const log = request.log ?? silentLog;
  const image = request.image ?? (await ensureImage({ log, ...(request.signal ? { signal: request.signal } : {}) }));
  const choice = await resolveAccelChoice(request.target ?? request.level, request.accel, image);
  if (choice.accel === null) throw new LevelUnavailableError(choice.skipReason);
  const { accel: _accel, log: _log, image: _image, ...rest } = request;
  const guest = await bootGuest({ ...rest, image, accel: choice.accel });
  return { guest, choice };
}
