// One entry point for booting a guest on any accelerator: the backend table lowers it.
import type { Accel } from '../model/accel.js';
import { BACKENDS } from '../accel/backends.js';
import type { AgentGuest } from './agent-guest.js';
import type { GuestBootOptions } from './guest.js';

export interface GuestOptions extends GuestBootOptions {
  readonly accel: Accel;
}

export function bootGuest(options: GuestOptions): Promise<AgentGuest> {
  const { accel, ...rest } = options;
  return BACKENDS[accel].boot(rest);
}
