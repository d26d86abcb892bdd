// How many guests may run at once on this host: one per core (a TCG guest keeps a core
// busy), and only as many as memory holds (a guest peaks near 300 MiB of QEMU plus its
// page cache; 1.5 GiB each keeps the host comfortable). When guests outnumber cores,
// limits stretch (model/limits.ts).
import os from 'node:os';
import { DEFAULTS } from '../model/defaults.js';

export function defaultWorkers(cores = os.availableParallelism(), freeBytes = os.freemem()): number {
  return Math.max(1, Math.min(cores, Math.floor((freeBytes - 2 ** 30) / DEFAULTS.memoryPerGuestBytes)));
}
