// How much longer a guest's boot takes on this host now: the 1-minute load per core,
// at least 1, capped. An emulated guest's clock and its boot stretch with the host's
// load (a TCG boot of 2 s took 8-11 s at a load of 8 on 2 cores; Bochs's 14 s boot
// took over 120 s at a load of 12), so limits set for an idle host are stretched by it.
import os from 'node:os';

export function hostLoadStretch(cap: number, load = os.loadavg()[0] ?? 0, cores = os.cpus().length || 1): number {
  return Math.min(cap, Math.max(1, load / cores));
}
