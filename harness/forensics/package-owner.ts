// Which installed package owns a file, asked of every package database the guest may
// have, in turn: rpm's, dpkg's (a .deb, its variant as levelgate's arch word), pacman's.
// Each database is a query (argv) and a parser; the first that names an owner wins.
import path from 'node:path';
import { archOfDebian, archOfPacman } from '../levels/arch.js';

export type OwnerExec = (argv: readonly string[]) => Promise<{ exitCode: number | null; stdout: string; stderr: string }>;

interface OwnerDatabase {
  /** The query for the owner of `file`; undefined: this database needs a second query (see `then`). */
  readonly owner: (file: string) => readonly string[];
  /** The owner's name in this database's words, from the query's output (undefined: none). */
  readonly parse: (stdout: string) => string | undefined;
  /** dpkg names only the package: a second query gives its version, arch and variant. */
  readonly then?: { readonly query: (name: string) => readonly string[]; readonly parse: (stdout: string) => string | undefined };
  /** Every installed file whose basename is `name`. */
  readonly named: (name: string) => { readonly argv: readonly string[]; readonly parse: (stdout: string) => string[] };
}

const basenameIs = (name: string) => (stdout: string) => [...new Set(stdout.split('\n').map((l) => l.trim()).filter((f) => f && path.posix.basename(f) === name))];

export const OWNER_DATABASES: readonly OwnerDatabase[] = [
  {
    owner: (file) => ['rpm', '-qf', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}\\n', file],
    parse: (stdout) => stdout.split('\n')[0]?.trim() || undefined,
    named: (name) => ({ argv: ['rpm', '-qa', '--qf', '[%{FILENAMES}\\n]'], parse: basenameIs(name) }),
  },
  {
    // "lgmove: /usr/bin/lgmove" (or "lgmove:amd64: ..." with several arches)
    owner: (file) => ['dpkg-query', '-S', file],
    parse: (stdout) => /^([^:\s,]+)(?::[a-z0-9]+)?: /.exec(stdout)?.[1],
    then: {
      query: (name) => ['dpkg-query', '-W', '-f=${Package} ${Version} ${Architecture} ${Architecture-Variant}\\n', name],
      parse: (stdout) => {
        const m = /^(\S+) (\S+) (\S+) ?(\S*)/.exec(stdout.trim());
        return m ? `${m[1]}-${m[2]}.${archOfDebian(m[3]!, m[4])} (.deb)` : undefined;
      },
    },
    named: (name) => ({ argv: ['dpkg-query', '-S', `*/${name}`], parse: (stdout) => basenameIs(name)(stdout.split('\n').map((l) => l.replace(/^[^:]+(?::[a-z0-9]+)?: /, '')).join('\n')) }),
  },
  {
    // "/usr/bin/lgp is owned by lgp 1.0-1"; the arch from pacman -Qi.
    owner: (file) => ['pacman', '-Qo', file],
    parse: (stdout) => /is owned by (\S+) \S+/.exec(stdout)?.[1],
    then: {
      query: (name) => ['pacman', '-Qi', name],
      parse: (stdout) => {
        const field = (f: string) => new RegExp(`^${f}\\s*: (\\S+)`, 'm').exec(stdout)?.[1];
        return field('Name') && field('Version') ? `${field('Name')}-${field('Version')}.${archOfPacman(field('Architecture') ?? '')} (pacman)` : undefined;
      },
    },
    named: (name) => ({ argv: ['pacman', '-Qlq'], parse: basenameIs(name) }),
  },
];

/** The owner of `file` in the first database that has one, as NAME-VERSION-RELEASE.ARCH (with "(.deb)" or "(pacman)" for those); undefined when none does. */
export async function packageOwner(exec: OwnerExec, file: string): Promise<string | undefined> {
  for (const db of OWNER_DATABASES) {
    const r = await exec(db.owner(file)).catch(() => undefined);
    const name = r && r.exitCode === 0 ? db.parse(r.stdout) : undefined;
    if (!name) continue;
    if (!db.then) return name;
    const detail = await exec(db.then.query(name)).catch(() => undefined);
    return (detail && detail.exitCode === 0 ? db.then.parse(detail.stdout) : undefined) ?? name;
  }
  return undefined;
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
