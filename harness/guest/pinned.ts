// One call from "a level" to "a booted guest that proved it": the cached image, the
// accelerator the probes allow, the guest itself. A level no accelerator provides is
// a LevelUnavailableError (a skip), never a guest at another level.
import { chooseAccel, type AccelChoice } from '../accel/choose.js';
import { type Accel, type AccelRequest } from '../model/accel.js';
import { probeForRequest } from '../accel/probe.js';
import { ensureImage, type ImageArtifacts } from '../image/build.js';
import type { LevelName } from '../levels/table.js';
import { exactTarget, type CpuTarget } from '../levels/targets.js';
import { LevelUnavailableError } from '../util/errors.js';
import { silentLog, type Log } from '../util/log.js';
import type { AgentGuest } from './agent-guest.js';
import { bootGuest, type GuestOptions } from './boot-guest.js';

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
