// What a compose offers for an audit, from its own metadata (harness/repos/repodata.ts:
// primary.xml, and filelists.xml for the libraries): every build, each name's programs
// and shared libraries, and the names an audit judges: those built in more than one
// arch, and those shipping glibc-hwcaps copies.
import { namesWithVariants, type AvailablePackage } from '../packages/available.js';
import { LIBRARY_FILE, readRepoMetadata, type RepoMetadata } from '../repos/repodata.js';
import { UsageError } from '../util/errors.js';

/** What an audit runs of a package: its programs (with --version) and its libraries (through the loader). */
export interface NameChecks {
  readonly programs: readonly string[];
  /** Each library file name, with the directory the loader is pointed at. */
  readonly libraries: readonly { readonly soname: string; readonly dir: string }[];
}

export interface ComposeMetadata {
  readonly metadata: RepoMetadata;
  readonly packages: readonly AvailablePackage[];
  /** Sorted: names with builds in more than one arch, or with glibc-hwcaps copies. */
  readonly auditNames: readonly string[];
  /** Every name's programs and libraries (the union over its builds). */
  readonly checksOf: (name: string) => NameChecks;
  /** The names that ship glibc-hwcaps copies. */
  readonly hwcapsNames: ReadonlySet<string>;
}

const PROGRAM = /^\/(?:usr\/)?s?bin\/[^/]+$/;

/** Reads a compose repository; a directory without rpm-md metadata is a UsageError naming it. */
export async function readComposeMetadata(dir: string): Promise<ComposeMetadata> {
  const metadata = await readRepoMetadata(dir);
  if (metadata.format !== 'rpm-md') throw new UsageError(`${dir} is ${metadata.format === 'apt' ? 'an apt' : 'a pacman'} repository; a compose audit reads createrepo_c (rpm-md) repositories`);
  const files = new Map<string, Set<string>>();
  for (const p of metadata.packages) {
    if (!files.has(p.name)) files.set(p.name, new Set());
    for (const f of p.files) files.get(p.name)!.add(f);
  }
  const checks = new Map<string, NameChecks>();
  const hwcapsNames = new Set<string>();
  for (const [name, set] of files) {
    const sorted = [...set].sort();
    const libraries = new Map<string, { soname: string; dir: string }>();
    for (const f of sorted) {
      const m = LIBRARY_FILE.exec(f);
      if (!m) continue;
      if (m[2]) hwcapsNames.add(name);
      if (!libraries.has(m[3]!)) libraries.set(m[3]!, { soname: m[3]!, dir: m[1]! });
    }
    checks.set(name, { programs: sorted.filter((f) => PROGRAM.test(f)), libraries: [...libraries.values()] });
  }
  const packages: AvailablePackage[] = metadata.packages.map(({ name, epoch, version, release, arch }) => ({ name, epoch, version, release, arch }));
  const auditNames = [...new Set([...namesWithVariants(packages), ...hwcapsNames])].sort();
  return { metadata, packages, auditNames, checksOf: (name) => checks.get(name) ?? { programs: [], libraries: [] }, hwcapsNames };
}
