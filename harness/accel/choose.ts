// Picks the accelerator for a level from what the probes found. Pure.
import type { LevelName } from '../levels/table.js';
import type { QemuAccel } from '../guest/qemu-args.js';
import type { ProbeResult } from './probe.js';

export type AccelRequest = 'auto' | QemuAccel;
export const ACCEL_REQUESTS: readonly AccelRequest[] = ['auto', 'tcg', 'kvm'];

export type AccelChoice =
  | { readonly level: LevelName; readonly accel: QemuAccel; readonly why: string }
  | { readonly level: LevelName; readonly accel: null; readonly skipReason: string };

/**
 * auto: KVM when it really boots guests with this level's CPU (so the host has the
 * features), else TCG when it can emulate the level; otherwise the level is skipped
 * with both reasons. An explicit accelerator is used only if its probe passed.
 */
export function chooseAccel(level: LevelName, request: AccelRequest, probes: readonly ProbeResult[]): AccelChoice {
  const probe = (accel: QemuAccel) => probes.find((p) => p.accel === accel && p.level === level);
  const order: QemuAccel[] = request === 'auto' ? ['kvm', 'tcg'] : [request];
  const reasons: string[] = [];
  for (const accel of order) {
    const p = probe(accel);
    if (p?.works) {
      const why = accel === 'kvm' ? 'KVM runs guests and the host CPU has every feature of the level' : request === 'auto' ? `TCG (${reasons.join('; ') || 'KVM not probed'})` : 'requested';
      return { level, accel, why };
    }
    reasons.push(p ? `${accel}: ${p.reason}` : `${accel}: not probed`);
  }
  return { level, accel: null, skipReason: `no accelerator provides ${level} on this host — ${reasons.join('; ')}` };
}
