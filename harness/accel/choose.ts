// Picks the accelerator for a level from what the probes found. Pure.
import { ACCELS, type Accel, type AccelRequest } from '../model/accel.js';
import { parseTargetName } from '../levels/targets.js';
import type { ProbeResult } from './backend.js';
import { expectedFidelity, kvmLeaks } from './fidelity.js';


const TITLES: Readonly<Record<Accel, string>> = { kvm: 'QEMU KVM', tcg: 'QEMU TCG', bochs: 'Bochs' };

/** The accelerator for a CPU target ("v3", "v3-fma"), or why none provides it. */
export type AccelChoice =
  /** `fallback`: the faster backends' probes that did not answer definitively (timed out, panicked), which is why this one runs. */
  | { readonly target: string; readonly accel: Accel; readonly why: string; readonly fallback?: string }
  | { readonly target: string; readonly accel: null; readonly skipReason: string };

/** The accelerators `request` may use, in order of preference. */
export function accelOrder(request: AccelRequest): Accel[] {
  return request === 'auto' ? [...ACCELS] : [request];
}

/**
 * auto: KVM when it really boots guests with this level's CPU (so the host has the
 * features) and traps there as hardware of the level would; else QEMU TCG when it can
 * emulate the level, else Bochs (v4 on a host without a usable KVM). A KVM that only
 * masks CPUID at the target (v1, v2, most near misses: POPCNT, BMI, MOVBE... run on the
 * host CPU) is passed over for an emulator that traps, and used only when none does
 * (its cells then cannot judge what needs a trap, and say so). Otherwise the level is
 * skipped with every reason. An explicit accelerator is used only if its probe passed.
 */
export function chooseAccel(target: string, request: AccelRequest, probes: readonly ProbeResult[]): AccelChoice {
  const probe = (accel: Accel) => probes.find((p) => p.accel === accel && p.target === target);
  const cpu = parseTargetName(target);
  const reasons: string[] = [];
  const undecided: string[] = [];
  let masksOnly: string | undefined;
  for (const accel of accelOrder(request)) {
    const p = probe(accel);
    if (p?.works) {
      if (request === 'auto' && accel === 'kvm' && (!cpu || expectedFidelity('kvm', cpu) === 'masks-only')) {
        const leaks = cpu ? kvmLeaks(cpu).map((f) => f.psabi).join(' ') : 'instructions above it';
        masksOnly = `KVM runs ${target} guests but only masks CPUID there (${leaks} would run on the host CPU)`;
        continue;
      }
      const why =
        request !== 'auto'
          ? 'requested'
          : accel === 'kvm'
            ? 'KVM runs guests and the host CPU has every feature of the level'
            : `${TITLES[accel]} (${[...(masksOnly ? [`kvm: ${masksOnly}; ${TITLES[accel]} traps every instruction above it`] : []), ...reasons].join('; ') || 'KVM not probed'})`;
      return { target, accel, why, ...(undecided.length ? { fallback: undecided.join('; ') } : {}) };
    }
    const unasked = accel === 'kvm' && request === 'auto' && cpu && expectedFidelity('kvm', cpu) === 'masks-only' ? 'kvm: not asked (it would only mask CPUID here)' : `${accel}: not probed`;
    reasons.push(p ? `${accel}: ${p.reason}` : unasked);
    if (p && p.definitive === false) undecided.push(`${accel}: ${p.reason}`);
  }
  if (masksOnly) return { target, accel: 'kvm', why: `${masksOnly}, and no emulator that traps provides it (${reasons.join('; ')}): checks that need a trap are not judged` };
  return { target, accel: null, skipReason: `no accelerator provides ${target} on this host — ${reasons.join('; ')}` };
}
