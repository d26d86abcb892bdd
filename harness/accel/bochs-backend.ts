// Bochs as a backend: v4 (AVX-512) on hosts whose KVM cannot run guests. Its disk states
// are redologs; its probe boots a guest and proves the level; its snapshots are states
// Bochs saved of a booted, proven guest (bochs-snapshot.ts), restored in a second and a
// half instead of a 14-20 s boot.
import { access } from 'node:fs/promises';
import { DEFAULTS } from '../model/defaults.js';
import { BochsGuest } from '../guest/bochs-guest.js';
import { BOCHS_ROM, BOCHS_VGA_ROM, bochsEngineIdentity } from '../guest/bochs-engine.js';
import { copySavedRootJournal } from '../guest/bochs-restore.js';
import { ensureBochsSnapshot } from '../guest/bochs-snapshot.js';
import { discardSnapshot } from '../guest/snapshot-store.js';
import { probeTools } from '../host/tools.js';
import type { CpuTarget } from '../levels/targets.js';
import type { ImageArtifacts } from '../image/build.js';
import { errorMessage, LevelUnavailableError } from '../util/errors.js';
import type { Backend, ProbeResult } from './backend.js';

/** Boots a Bochs guest at `level` (boot, agent, level proof) and stops it. */
export async function probeBochs(target: CpuTarget, image: ImageArtifacts): Promise<ProbeResult> {
  const started = performance.now();
  const level = target.level;
  // Definitive: a guest that booted, a model Bochs does not have, Bochs not installed; a failed boot is asked again next run.
  const done = (works: boolean, reason: string, definitive = true): ProbeResult => ({ accel: 'bochs', target: target.name, works, reason, durationMs: Math.round(performance.now() - started), definitive });
  // Bochs pins a level by choosing a CPU model; none of its models is one feature short of a level.
  if (target.nearMiss) return done(false, `Bochs has no CPU model one feature short of ${target.nearMiss.of}`);
  // The programs (bochs, unshare, ip: host/tools.ts) and the BIOS images Bochs loads.
  const tools = (await probeTools(['bochs'])).filter((t) => t.version === undefined).map((t) => t.tool);
  const files = await Promise.all(
    [BOCHS_ROM, BOCHS_VGA_ROM].map((file) =>
      access(file).then(
        () => undefined,
        () => file,
      ),
    ),
  );
  const missing = [...tools.map((t) => `no ${t.command}`), ...files.filter((f): f is string => f !== undefined)];
  if (missing.length > 0) {
    const packages = new Set(['bochs', 'bochsbios', 'vgabios', ...tools.map((t) => t.debianPackage)]);
    return done(false, `Bochs is not installed (${missing.join(', ')}): apt-get install ${[...packages].join(' ')}`);
  }
  try {
    const guest = await BochsGuest.boot({ image, level });
    await guest.dispose();
    return done(true, `booted the guest and proved ${level} (${guest.facts.cpu})`);
  } catch (error) {
    return done(false, `Bochs did not run a ${level} guest: ${errorMessage(error).split('\n')[0]}`, false);
  }
}

export const bochsBackend: Backend = {
  accel: 'bochs',
  title: 'Bochs',
  emulator: 'Bochs',
  ...DEFAULTS.backends.bochs,
  diskFormat: 'bochs-redolog',
  boot: (options) => BochsGuest.boot(options),
  // Bochs creates the redolog on the first boot.
  newDiskState: async (_image, base) => `${base}.redolog`,
  probe: probeBochs,
  version: () => bochsEngineIdentity(),
  snapshots: {
    ensure: async (request) => {
      if (request.target.nearMiss) throw new LevelUnavailableError(`Bochs has no CPU model one feature short of a level: ${request.target.name} cannot be pinned`);
      const snapshot = await ensureBochsSnapshot({ image: request.image, level: request.target.level, dataDisks: request.dataDisks, ...(request.warmUp ? { warmUp: request.warmUp } : {}), ...(request.memoryMiB ? { memoryMiB: request.memoryMiB } : {}) }, request.options);
      return {
        id: snapshot.key,
        target: request.target,
        proof: snapshot.proof,
        installed: snapshot.installed,
        detectors: snapshot.detectors,
        bootConsole: snapshot.bootConsole,
        // The root disk as saved: a cell's journal starts as a copy of it (cold boots of the cell boot it too).
        async newDiskState(base) {
          await copySavedRootJournal(snapshot, `${base}.redolog`);
          return `${base}.redolog`;
        },
        restore: (options) => BochsGuest.restore(options, snapshot),
        discard: () => discardSnapshot(snapshot),
      };
    },
  },
};
