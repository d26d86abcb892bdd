// The one store of guest snapshots, for every backend and image kind (mkosi's
// staging-then-publish): inputs → key → the backend's save into a staging directory →
// checks (the saved disk through `qemu-img check`, the backend's own) → a manifest of
// every recorded file's size and the chosen files' SHA-256 → published read-only
// (0444) → verified on every load (key, sizes, hashes) → discarded when a restore shows
// it does not fit. A backend supplies only what it saves and how it reads it back.
import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { cacheRoot, ensureCached, exists, removeStaleStaging, writeJson } from '../host/cache.js';
import { silentLog } from '../util/log.js';
import type { EnsureSnapshotOptions } from './snapshot-save.js';
import type { DataDisk } from '../model/guest.js';

/** What every manifest holds, besides what a kind adds (timings, the channel, the CPU model). */
export interface StoredManifest {
  readonly key: string;
  readonly inputs: unknown;
  readonly createdAt: string;
  /** Every recorded file's size, by its path in the snapshot. */
  readonly sizes: Readonly<Record<string, number>>;
  /** The SHA-256 of the files a kind hashes (device state, small files; not the RAM). */
  readonly sha256: Readonly<Record<string, string>>;
}

/** One kind of snapshot: where it lives, what it depends on, how it is saved and read back. */
export interface SnapshotKind<S, M extends object> {
  /** The cache folder: snapshots of different kinds never share a key space by accident. */
  readonly folder: 'snapshots' | 'cloud-snapshots';
  /** Everything that shapes the saved guest: its hash is the key. */
  readonly inputs: unknown;
  /** For messages: "the v3 snapshot". */
  readonly what: string;
  /** The qcow2 disk the save leaves, checked before it is published. */
  readonly disk?: string;
  /** Which files are recorded: these names, or every file the save left. */
  readonly recorded: readonly string[] | 'all';
  /** Whether a recorded file's content is hashed (sizes are checked for all). */
  readonly hashed: (name: string) => boolean;
  /** Boots, proves and saves the guest into `staging`; returns what its manifest adds. */
  save(staging: string): Promise<M>;
  /** Reads a published, verified snapshot back into what a restore needs. */
  read(dir: string, manifest: StoredManifest & M): Promise<S>;
}

export interface Stored<M extends object> {
  readonly key: string;
  readonly dir: string;
  readonly manifest: StoredManifest & M;
}

const MANIFEST = 'manifest.json';

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** The key of a snapshot: a hash of every input, so that any change makes a new snapshot. */
export function snapshotKeyOf(inputs: unknown): string {
  return sha256(JSON.stringify(inputs)).slice(0, 16);
}

/** Every file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
}

/** The manifest of a published snapshot whose files are all as recorded; undefined otherwise. */
async function verified<M extends object>(dir: string, key: string, recorded: SnapshotKind<unknown, M>['recorded']): Promise<(StoredManifest & M) | undefined> {
  const file = (name: string) => path.join(dir, name);
  try {
    const manifest = JSON.parse(await readFile(file(MANIFEST), 'utf8')) as StoredManifest & M & { readonly stateSha256?: string };
    if (manifest.key !== key) return undefined;
    // Snapshots published before this store recorded the state's hash alone.
    const hashes = manifest.sha256 ?? (manifest.stateSha256 ? { state: manifest.stateSha256 } : undefined);
    if (!hashes) return undefined;
    if (recorded === 'all') {
      const present = (await filesUnder(dir)).filter((f) => f !== MANIFEST);
      if (present.join('\n') !== Object.keys(manifest.sizes).sort().join('\n')) return undefined;
    }
    for (const [name, size] of Object.entries(manifest.sizes)) if ((await stat(file(name))).size !== size) return undefined;
    for (const [name, hash] of Object.entries(hashes)) if (sha256(await readFile(file(name))) !== hash) return undefined;
    return { ...manifest, sha256: hashes };
  } catch {
    return undefined;
  }
}

/** The snapshot of `kind`: loaded when a sound one is published, else saved once in staging, checked and published. */
export async function ensureSnapshot<S, M extends object>(kind: SnapshotKind<S, M>, options: EnsureSnapshotOptions = {}): Promise<S & Stored<M>> {
  const key = snapshotKeyOf(kind.inputs);
  const dir = path.join(options.cacheDir ?? cacheRoot(), kind.folder, key);
  // Another key's save killed before its clean-up ran (a key that may never be made again) leaves its staging here.
  await removeStaleStaging(path.dirname(dir));
  const load = async () => {
    const manifest = await verified<M>(dir, key, kind.recorded);
    return manifest ? { ...(await kind.read(dir, manifest)), key, dir, manifest } : undefined;
  };
  return ensureCached({
    dir,
    what: `${kind.what} ${key}`,
    load: () => load().catch(() => undefined),
    log: options.log ?? silentLog,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.rebuild ? { rebuild: true } : {}),
    build: async (staging) => {
      const file = (name: string) => path.join(staging, name);
      const extra = await kind.save(staging);
      if (kind.disk) {
        // The overlay holds the disk as the saved guest left it: checked, then frozen.
        const check = await execa('qemu-img', ['check', '-q', file(kind.disk)], { reject: false, all: true });
        if (check.failed) throw new Error(`the snapshot's disk does not check out: ${check.all ?? check.shortMessage}`);
      }
      const names = kind.recorded === 'all' ? await filesUnder(staging) : kind.recorded;
      const sizes: Record<string, number> = {};
      const hashes: Record<string, string> = {};
      for (const name of names) {
        sizes[name] = (await stat(file(name))).size;
        if (kind.hashed(name)) hashes[name] = sha256(await readFile(file(name)));
      }
      await writeJson(file(MANIFEST), { key, inputs: kind.inputs, createdAt: new Date().toISOString(), sizes, sha256: hashes, ...extra });
      for (const name of names) await chmod(file(name), 0o444);
    },
  });
}

/** Removes a snapshot a restore showed to be unusable, so the next ensure rebuilds it. */
/** The data disks as a snapshot key sees them: a disk rebuilt (size, mtime) makes a new snapshot. */
export function dataDiskInputs(disks: readonly DataDisk[]): Promise<{ name: string; path: string; size: number; mtimeMs: number }[]> {
  return Promise.all(
    disks.map(async (d) => {
      const s = await stat(d.path);
      return { name: d.name, path: d.path, size: s.size, mtimeMs: Math.round(s.mtimeMs) };
    }),
  );
}

export async function discardSnapshot(snapshot: { readonly dir: string }): Promise<void> {
  if (await exists(snapshot.dir)) await rm(snapshot.dir, { recursive: true, force: true });
}
