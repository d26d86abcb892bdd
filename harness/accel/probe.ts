// Finds out by trying whether each backend can run a guest with a level's CPU on this
// host (each backend's own probe boots the guest kernel), and caches the definitive
// answers per host boot, emulator versions and image; a timeout or a panic is asked
// again next run.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import PQueue from 'p-queue';
import type { ImageArtifacts } from '../image/build.js';
import { cacheRoot } from '../host/cache.js';
import type { CpuTarget } from '../levels/targets.js';
import type { ProbeResult } from './backend.js';
import { BACKENDS, type BackendTable } from './backends.js';
import { accelOrder } from './choose.js';
import { ACCELS, type Accel, type AccelRequest } from '../model/accel.js';
import { expectedFidelity } from './fidelity.js';

export type { ProbeResult } from './backend.js';

/** Bump when what a probe does changes (its kernel arguments, its retries): cached answers are then asked again. */
const PROBE_LAYOUT = 2;

async function cacheKey(imageDigest: string, backends: BackendTable): Promise<string> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
  const versions = await Promise.all(ACCELS.map((a) => backends[a].version()));
  return `${PROBE_LAYOUT} ${bootId} ${[...new Set(versions)].join(' ')} ${imageDigest}`;
}

/**
 * The answers earlier probes cached for the image `imageDigest`, when they still hold
 * on this host (same boot, same emulators); undefined when there are none or the
 * emulators cannot be asked their version (not installed). Probes nothing.
 */
export async function cachedProbes(imageDigest: string, cacheDir = cacheRoot(), backends: BackendTable = BACKENDS): Promise<ProbeResult[] | undefined> {
  const key = await cacheKey(imageDigest, backends);
  return (await readProbeStore(path.join(cacheDir, 'probes.json'))).find((e) => e.key === key)?.results;
}

/** The cache holds the answers of this many keys (images, emulator versions), most recent first: two checkouts of different images on one host do not evict each other. */
const PROBE_STORE_KEYS = 8;

interface ProbeStoreEntry {
  readonly key: string;
  readonly results: ProbeResult[];
}

/** Every key's cached answers, most recent first; a missing or unreadable file is an empty store (the probes are asked again). */
async function readProbeStore(file: string): Promise<ProbeStoreEntry[]> {
  try {
    const stored = JSON.parse(await readFile(file, 'utf8')) as { entries?: ProbeStoreEntry[]; key?: string; results?: ProbeResult[] };
    if (Array.isArray(stored.entries)) return stored.entries;
    // The file of an earlier levelgate: one key.
    return stored.key && Array.isArray(stored.results) ? [{ key: stored.key, results: stored.results }] : [];
  } catch {
    return [];
  }
}

/**
 * Writes `entry` first, keeping the most recent other keys; atomically (a reader sees the
 * old file or the new one), through a temporary file of its own (several probes of one
 * process may write at once). The cache only saves time: a write that fails is dropped,
 * the answers were already given.
 */
async function writeProbeStore(file: string, entry: ProbeStoreEntry): Promise<void> {
  const others = (await readProbeStore(file)).filter((e) => e.key !== entry.key);
  const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(temp, `${JSON.stringify({ entries: [entry, ...others].slice(0, PROBE_STORE_KEYS) }, null, 2)}\n`);
    await rename(temp, file);
  } catch {
    await rm(temp, { force: true }).catch(() => undefined);
  }
}

/**
 * Probes what `request` may use for `targets`: each backend in order of preference, for
 * the targets no earlier backend provides (a Bochs boot costs ~15 s: it is probed only
 * where QEMU cannot provide the target). Under auto, KVM at a CPU where it would only
 * mask CPUID (v1, v2, most near misses) is asked last, and only when no emulator that
 * traps provides that CPU: chooseAccel passes it over otherwise, and a KVM that opens
 * but hangs (nested or paravirtual) would cost its whole time limit in every run, since
 * a timeout is never cached.
 */
export async function probeForRequest(request: AccelRequest, targets: readonly CpuTarget[], image: ImageArtifacts, options: Omit<ProbeOptions, 'cacheDir'> & { cacheDir?: string } = {}): Promise<ProbeResult[]> {
  const results: ProbeResult[] = [];
  const provided = (t: CpuTarget) => results.some((p) => p.target === t.name && p.works);
  const backends = options.backends ?? BACKENDS;
  const kvmLast = request === 'auto' ? new Set(targets.filter((t) => expectedFidelity('kvm', t) === 'masks-only')) : new Set<CpuTarget>();
  for (const accel of accelOrder(request)) {
    // KVM and TCG are cheap to probe: every target, so doctor shows both; others only where still needed.
    const wanted = (backends[accel].emulator === 'QEMU' ? targets : targets.filter((t) => !provided(t))).filter((t) => accel !== 'kvm' || !kvmLast.has(t));
    if (wanted.length > 0) results.push(...(await probeAll([accel], wanted, image, options)));
  }
  const unprovided = [...kvmLast].filter((t) => !provided(t));
  if (unprovided.length > 0) results.push(...(await probeAll(['kvm'], unprovided, image, options)));
  return results;
}

export interface ProbeOptions {
  readonly cacheDir?: string;
  /** Ask every pair again. */
  readonly refresh?: boolean;
  /** The backends asked (default BACKENDS: the host's emulators). */
  readonly backends?: BackendTable;
  /** The probe itself (default: the backend's). */
  readonly probe?: (accel: Accel, target: CpuTarget, image: ImageArtifacts) => Promise<ProbeResult>;
}

/** Probes each (accel, target) pair, once per host boot and emulator versions when the answer is definitive. */
export async function probeAll(accels: readonly Accel[], targets: readonly CpuTarget[], image: ImageArtifacts, options: ProbeOptions = {}): Promise<ProbeResult[]> {
  const file = path.join(options.cacheDir ?? cacheRoot(), 'probes.json');
  const backends = options.backends ?? BACKENDS;
  const key = await cacheKey(image.digest, backends);
  let cached: ProbeStoreEntry = { key, results: [] };
  if (!options.refresh) {
    const stored = (await readProbeStore(file)).find((e) => e.key === key);
    // Only definitive answers are trusted, whatever the file says.
    if (stored) cached = { key, results: stored.results.filter((r) => r.definitive === true) };
  }
  // Two probes at a time: a KVM that hangs costs its full time limit, and TCG boots take a core each.
  const queue = new PQueue({ concurrency: 2 });
  const pairs = accels.flatMap((accel) => targets.map((target) => ({ accel, target })));
  const known = (accel: Accel, target: CpuTarget) => cached.results.find((r) => r.accel === accel && r.target === target.name);
  const missing = pairs.filter(({ accel, target }) => !known(accel, target));
  const probe = options.probe ?? ((accel: Accel, target: CpuTarget, at: ImageArtifacts) => backends[accel].probe(target, at));
  const fresh = await Promise.all(missing.map(({ accel, target }) => queue.add(() => probe(accel, target, image)) as Promise<ProbeResult>));
  const answer = (accel: Accel, target: CpuTarget) => known(accel, target) ?? fresh.find((r) => r.accel === accel && r.target === target.name)!;
  const results = pairs.map(({ accel, target }) => answer(accel, target));
  const lasting = fresh.filter((r) => r.definitive === true);
  if (lasting.length > 0) {
    cached.results.push(...lasting);
    await writeProbeStore(file, cached);
  }
  return results;
}
