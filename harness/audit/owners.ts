// Which package owns each file of an installed tree (a guest image's root): its rpm
// database, read by the host's rpm with --root (the database format is rpm's own, so
// rpm reads it, nothing else; Debian 12's rpm 4.18 reads the guest's rpm 6.1 sqlite
// database), and dpkg's file lists for the Debian guest the default image is — its own
// system comes from dpkg, only what guests install comes from rpm.
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';

export interface Owner {
  /** NAME-VERSION-RELEASE.ARCH for RPMs, NAME_VERSION_ARCH for Debian packages. */
  readonly id: string;
  /** The arch the package claims, in RPM terms (Debian's amd64 is x86_64: the x86-64 baseline). */
  readonly arch: string;
  readonly manager: 'rpm' | 'dpkg';
}

export interface Owners {
  /** Canonical path inside the tree (symbolic links of directories resolved) → its owner. */
  readonly byPath: ReadonlyMap<string, Owner>;
  /** Problems reading a database (the audit goes on without it). */
  readonly notes: readonly string[];
}

const RPM_DBPATHS = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];
const RPM_DB_FILES = ['rpmdb.sqlite', 'Packages', 'Packages.db'];

/** Resolves directory links inside `root` (usrmerge's /lib → usr/lib), so listed and found paths meet. */
function canonicalizer(root: string): (p: string) => Promise<string> {
  const dirs = new Map<string, Promise<string>>();
  const realRoot = realpath(root);
  return async (p) => {
    const dir = path.posix.dirname(p);
    let resolved = dirs.get(dir);
    if (!resolved) {
      resolved = (async () => {
        try {
          const real = await realpath(path.join(root, dir));
          const base = await realRoot;
          return real.startsWith(base) ? `/${path.relative(base, real)}`.replace(/^\/$/, '') : dir;
        } catch {
          return dir;
        }
      })();
      dirs.set(dir, resolved);
    }
    return `${(await resolved).replace(/\/$/, '')}/${path.posix.basename(p)}`;
  };
}

async function rpmOwners(root: string, canonical: (p: string) => Promise<string>, into: Map<string, Owner>, notes: string[]): Promise<void> {
  for (const dbpath of RPM_DBPATHS) {
    // The database's own files (sqlite, Berkeley DB, ndb), not just the directory: rpm 6 makes both paths.
    const files = await readdir(path.join(root, dbpath)).catch(() => [] as string[]);
    if (!files.some((f) => RPM_DB_FILES.includes(f))) continue;
    const result = await execa('rpm', ['--root', root, '--dbpath', dbpath, '-qa', '--qf', '[%{FILENAMES}\\t%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\t%{ARCH}\\n]'], { reject: false, all: false });
    if ((result as { code?: string }).code === 'ENOENT') {
      notes.push(`${dbpath} holds an rpm database, but the host has no rpm to read it (apt-get install rpm): files installed by rpm show as (no package)`);
      return;
    }
    if (result.failed) {
      notes.push(`rpm could not read the database in ${dbpath}: ${(result.stderr || `exit ${result.exitCode}`).split('\n')[0]}`);
      return;
    }
    for (const line of result.stdout.split('\n')) {
      const [file, id, arch] = line.split('\t');
      if (file && id && arch) into.set(await canonical(file), { id, arch, manager: 'rpm' });
    }
    return;
  }
}

async function dpkgOwners(root: string, canonical: (p: string) => Promise<string>, into: Map<string, Owner>): Promise<void> {
  let status: string;
  try {
    status = await readFile(path.join(root, 'var/lib/dpkg/status'), 'utf8');
  } catch {
    return;
  }
  const installed = new Map<string, { version: string; arch: string }>();
  for (const paragraph of status.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, 'm').exec(paragraph)?.[1]?.trim();
    const name = field('Package');
    if (!name || !/install ok installed/.test(field('Status') ?? '')) continue;
    installed.set(name, { version: field('Version') ?? '', arch: field('Architecture') ?? '' });
  }
  const info = path.join(root, 'var/lib/dpkg/info');
  const lists = await readdir(info).catch(() => [] as string[]);
  for (const list of lists.filter((l) => l.endsWith('.list'))) {
    const name = list.slice(0, -5).split(':')[0]!;
    const pkg = installed.get(name);
    if (!pkg) continue;
    // Debian's amd64 is built for the x86-64 baseline: it claims what x86_64 RPMs claim.
    const owner: Owner = { id: `${name}_${pkg.version}_${pkg.arch}`, arch: pkg.arch === 'amd64' ? 'x86_64' : pkg.arch === 'all' ? 'noarch' : pkg.arch, manager: 'dpkg' };
    for (const file of (await readFile(path.join(info, list), 'utf8')).split('\n')) {
      if (!file || file === '/.') continue;
      const key = await canonical(file);
      if (!into.has(key)) into.set(key, owner);
    }
  }
}

/** The owners of an installed tree's files, from its rpm database and dpkg's lists (rpm first). */
export async function treeOwners(root: string): Promise<Owners> {
  const byPath = new Map<string, Owner>();
  const notes: string[] = [];
  const canonical = canonicalizer(root);
  await rpmOwners(root, canonical, byPath, notes);
  await dpkgOwners(root, canonical, byPath);
  return { byPath, notes };
}

/** True when `root` looks like an installed system: it has an rpm or dpkg database. */
export async function isInstalledTree(root: string): Promise<boolean> {
  for (const p of [...RPM_DBPATHS, '/var/lib/dpkg/status']) {
    if (await stat(path.join(root, p)).then(() => true, () => false)) return true;
  }
  return false;
}
