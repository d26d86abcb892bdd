// The guest memory a compose audit needs, from the size of the metadata its package
// managers load (repomd.xml's open-size of primary.xml and filelists.xml), and whether
// that many guests fit the host: a compose too big for it is refused, naming the
// repository and the figures, before any guest boots.
import os from 'node:os';
import { readRepomd } from '../repos/repomd.js';
import { DEFAULTS } from '../model/defaults.js';
import { UsageError } from '../util/errors.js';

/** The metadata the solvers load: dnf5 and zypper parse primary (and zypper filelists) into a libsolv pool. */
const SOLVER_METADATA = ['primary', 'filelists'] as const;

/**
 * The guest's own use before any metadata (kernel, agent, page cache, the tool's
 * binaries); a compose guest gets at least DEFAULTS.memoryMiB, as every guest does.
 */
const BASE_MIB = 768;
/**
 * MiB of guest memory per MiB of uncompressed metadata: one tool at a time parses the
 * XML and builds its libsolv pool while the previous pool's solv file sits in the page
 * cache (one tool's parse peaks near twice the XML; the cache holds the third).
 */
const PER_METADATA_MIB = 3;
/** Guest memory grows in steps of this much (a few sizes, so few snapshot keys). */
const STEP_MIB = 128;
/** What the host keeps for itself and for node while guests run. */
const HOST_RESERVE_MIB = 1024;
/** The largest guest a compose audit boots (Bochs saves all of it in every snapshot). */
export const MAX_GUEST_MIB = 16_384;

/** One repository's solver metadata, uncompressed (repomd.xml's open-size, else the compressed size × 8). */
export interface RepoMetadataSize {
  readonly dir: string;
  readonly bytes: number;
}

/** repomd.xml's sizes of primary and filelists; the caller has already checked the repository has metadata. */
export async function solverMetadataBytes(dir: string): Promise<RepoMetadataSize> {
  const { data } = await readRepomd(dir);
  const bytes = SOLVER_METADATA.reduce((sum, t) => {
    const s = data.get(t);
    return sum + (s?.openSize ?? (s?.size ?? 0) * 8);
  }, 0);
  return { dir, bytes };
}

export interface GuestMemoryPlan {
  /** Each guest's memory. */
  readonly guestMiB: number;
  /** The guests that run at once: the workers asked for, or fewer when the host holds fewer. */
  readonly workers: number;
  /** The metadata it was sized from, MiB (all repositories a guest loads). */
  readonly metadataMiB: number;
  /** One line for the run's output. */
  readonly statement: string;
}

const mib = (bytes: number): number => bytes / 2 ** 20;

/**
 * The guest memory for repositories of these metadata sizes (all are loaded in every
 * guest), and the workers that fit `hostAvailableMiB`. A compose whose guest is larger
 * than MAX_GUEST_MIB or than the host holds (with its reserve) is a UsageError naming
 * the repository and the figures.
 */
export function planGuestMemory(repos: readonly RepoMetadataSize[], workers: number, hostAvailableMiB = mib(os.freemem())): GuestMemoryPlan {
  const metadataMiB = mib(repos.reduce((sum, r) => sum + r.bytes, 0));
  const guestMiB = Math.max(DEFAULTS.memoryMiB, Math.ceil((BASE_MIB + PER_METADATA_MIB * metadataMiB) / STEP_MIB) * STEP_MIB);
  const largest = [...repos].sort((a, b) => b.bytes - a.bytes)[0];
  const named = `${largest?.dir ?? 'the compose'} (${metadataMiB.toFixed(1)} MiB of solver metadata${repos.length > 1 ? ` over ${repos.length} repositories` : ''})`;
  const usable = Math.floor(hostAvailableMiB - HOST_RESERVE_MIB);
  if (guestMiB > MAX_GUEST_MIB) {
    throw new UsageError(`the compose ${named} needs a guest of ${guestMiB} MiB; a compose audit boots guests of at most ${MAX_GUEST_MIB} MiB`, { hint: 'audit a smaller repository (one arch, one variant of the compose)' });
  }
  if (guestMiB > usable) {
    throw new UsageError(`the compose ${named} needs a guest of ${guestMiB} MiB; this host has ${Math.round(hostAvailableMiB)} MiB available, ${usable} MiB for guests after ${HOST_RESERVE_MIB} MiB kept for itself`, { hint: 'run it on a host with more free memory' });
  }
  const fit = Math.min(workers, Math.floor(usable / guestMiB));
  const statement = `guest memory ${guestMiB} MiB (${BASE_MIB} MiB + ${PER_METADATA_MIB} × ${metadataMiB.toFixed(1)} MiB of solver metadata, at least ${DEFAULTS.memoryMiB}), ${fit} guest${fit === 1 ? '' : 's'} at once${fit < workers ? ` (${workers} asked; ${usable} MiB available for guests)` : ''}`;
  return { guestMiB, workers: fit, metadataMiB, statement };
}
