// Which installed packages own a file, asked of every package database the guest may
// have, in turn: rpm's, dpkg's (a .deb, its variant as levelgate's arch word), pacman's.
// Each database is a query (argv) and a parser; the first that names owners answers,
// with every owner it names (a path two packages own is "ambiguous", never a choice).
import path from 'node:path';
import { archOfDebian, archOfPacman } from '../levels/arch.js';
import { formatNevra } from '../packages/available.js';

export type OwnerExec = (argv: readonly string[]) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>;

interface OwnerDatabase {
  /** The query for the owners of `file`. */
  readonly owner: (file: string) => readonly string[];
  /** The owners in this database's words, from the query's output. */
  readonly parse: (stdout: string, file: string) => string[];
  /** dpkg and pacman name only the package: a second query gives its version, arch and variant; `fallback` labels an owner it cannot describe. */
  readonly then?: { readonly query: (name: string) => readonly string[]; readonly parse: (stdout: string) => string | undefined; readonly fallback: (name: string) => string };
  /** Every installed file whose basename is `name`. */
  readonly named: (name: string) => { readonly argv: readonly string[]; readonly parse: (stdout: string) => string[] };
}

/** "NAME EPOCH VERSION-RELEASE.ARCH" as "NAME-[EPOCH:]VERSION-RELEASE.ARCH" (the epoch only when not 0), as the installed set spells it. */
export function nevraOf(line: string): string | undefined {
  const [name, epoch, vra] = line.trim().split(' ');
  const dot = vra?.lastIndexOf('.') ?? -1;
  if (!name || !epoch || !vra || dot < 0) return undefined;
  return formatNevra(name, epoch, vra.slice(0, dot), vra.slice(dot + 1));
}

const basenameIs = (name: string) => (stdout: string) => [...new Set(stdout.split('\n').map((l) => l.trim()).filter((f) => f && path.posix.basename(f) === name))];

/** dpkg-query -S lines ("bash: /usr/bin/bash", "pkg-a, pkg-b:amd64: /usr/share/x") that name `file`; diversions are not owners. */
function dpkgOwners(stdout: string, file: string): string[] {
  const names = stdout.split('\n').flatMap((l) => {
    if (l.startsWith('diversion by')) return [];
    const colon = l.lastIndexOf(': ');
    return colon > 0 && l.slice(colon + 2).trim() === file ? l.slice(0, colon).split(', ').map((n) => n.replace(/:[a-z0-9]+$/, '')) : [];
  });
  return [...new Set(names)];
}

export const OWNER_DATABASES: readonly OwnerDatabase[] = [
  {
    owner: (file) => ['rpm', '-qf', '--qf', '%{NAME} %{EPOCHNUM} %{VERSION}-%{RELEASE}.%{ARCH}\\n', file],
    parse: (stdout) => [...new Set(stdout.split('\n').flatMap((l) => nevraOf(l) ?? []))],
    named: (name) => ({ argv: ['rpm', '-qa', '--qf', '[%{FILENAMES}\\n]'], parse: basenameIs(name) }),
  },
  {
    owner: (file) => ['dpkg-query', '-S', file],
    parse: dpkgOwners,
    then: {
      query: (name) => ['dpkg-query', '-W', '-f=${Package} ${Version} ${Architecture} ${Architecture-Variant}\\n', name],
      parse: (stdout) => {
        const m = /^(\S+) (\S+) (\S+) ?(\S*)/.exec(stdout.trim());
        return m ? `${m[1]}-${m[2]}.${archOfDebian(m[3]!, m[4])} (dpkg)` : undefined;
      },
      fallback: (name) => `${name} (dpkg)`,
    },
    named: (name) => ({ argv: ['dpkg-query', '-S', `*/${name}`], parse: (stdout) => basenameIs(name)(stdout.split('\n').map((l) => l.replace(/^[^:]+(?::[a-z0-9]+)?: /, '')).join('\n')) }),
  },
  {
    // "/usr/bin/lgp is owned by lgp 1.0-1"; the arch from pacman -Qi.
    owner: (file) => ['pacman', '-Qo', file],
    parse: (stdout) => [...new Set(stdout.split('\n').flatMap((l) => /is owned by (\S+) \S+/.exec(l)?.[1] ?? []))],
    then: {
      query: (name) => ['pacman', '-Qi', name],
      parse: (stdout) => {
        const field = (f: string) => new RegExp(`^${f}\\s*: (\\S+)`, 'm').exec(stdout)?.[1];
        return field('Name') && field('Version') ? `${field('Name')}-${field('Version')}.${archOfPacman(field('Architecture') ?? '')} (pacman)` : undefined;
      },
      fallback: (name) => `${name} (pacman)`,
    },
    named: (name) => ({ argv: ['pacman', '-Qlq'], parse: basenameIs(name) }),
  },
];

/**
 * Every owner of `file` in the first database that has one: rpm's NEVRAs, dpkg's and
 * pacman's NAME-VERSION.ARCH with "(dpkg)" or "(pacman)"; [] when none does.
 */
export async function packageOwners(exec: OwnerExec, file: string): Promise<string[]> {
  for (const db of OWNER_DATABASES) {
    const r = await exec(db.owner(file)).catch(() => undefined);
    const names = r && r.exitCode === 0 ? db.parse(r.stdout, file) : [];
    if (!names.length) continue;
    if (!db.then) return names;
    const then = db.then;
    return Promise.all(
      names.map(async (name) => {
        const detail = await exec(then.query(name)).catch(() => undefined);
        return (detail && detail.exitCode === 0 ? then.parse(detail.stdout) : undefined) ?? then.fallback(name);
      }),
    );
  }
  return [];
}

/** Every installed file, in any database, whose basename is `name` (the kernel prints only the basename). */
export async function installedFilesNamed(exec: OwnerExec, name: string): Promise<string[]> {
  const files = new Set<string>();
  for (const db of OWNER_DATABASES) {
    const { argv, parse } = db.named(name);
    const r = await exec(argv).catch(() => undefined);
    if (r && r.exitCode === 0) for (const f of parse(r.stdout)) files.add(f);
  }
  return [...files];
}
