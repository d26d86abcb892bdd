// How zypper's stack reads a package's `Supplements: modalias(...)`: libsolv turns
// "modalias(PKG:ALIAS)" (two ':' or more) into "PKG and modalias(ALIAS)", otherwise the
// whole text is the alias (repo_fix_supplements, libsolv src/repo.c) — which is why
// packages write the alias's own ':' as %3A; libzypp hex-decodes %XX and fnmatch(3)es
// the alias against every modalias file under /sys (zypp/target/modalias/Modalias.cc,
// zypp/sat/detail/PoolImpl.cc). Pure.
import { modaliasMatches } from '../levels/modalias.js';

export interface ModaliasSupplement {
  /** The package that must be installed too ("glibc" in "modalias(glibc:cpu:type%3A...)"), if any. */
  readonly package?: string;
  /** The decoded glob matched against the system's modaliases. */
  readonly glob: string;
}

/** libzypp's str::hexdecode: every %XX (two hex digits) becomes that character. */
export function hexdecode(text: string): string {
  return text.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

const hexencode = (text: string): string => text.replace(/[%:, ]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);

/**
 * The capability a spec writes for a modalias glob, the way openSUSE's do: the glob's
 * first ':' raw, every other ':' (and ',', ' ', '%') hex-encoded. With a package,
 * "modalias(PKG:cpu:type%3Ax86*...)" then has exactly the two ':' libsolv needs to
 * split off PKG; encoding the first one too would make the whole text the glob, which
 * never matches.
 */
export function modaliasCapability(glob: string, pkg?: string): string {
  const colon = glob.indexOf(':');
  if (colon < 0 && pkg !== undefined) throw new Error(`modalias glob '${glob}' has no ':' (a kernel modalias always has one): libsolv could not split off the package '${pkg}'`);
  const alias = colon < 0 ? hexencode(glob) : `${hexencode(glob.slice(0, colon))}:${hexencode(glob.slice(colon + 1))}`;
  return `modalias(${pkg !== undefined ? `${pkg}:` : ''}${alias})`;
}

/** Reads a modalias() capability as libsolv and libzypp do; undefined when it is not one. */
export function parseModaliasSupplement(capability: string): ModaliasSupplement | undefined {
  const inner = /^modalias\((.+)\)$/.exec(capability.trim())?.[1];
  if (inner === undefined) return undefined;
  const colon = inner.indexOf(':');
  if (colon > 0 && inner.indexOf(':', colon + 1) >= 0) return { package: inner.slice(0, colon), glob: hexdecode(inner.slice(colon + 1)) };
  return { glob: hexdecode(inner) };
}

/** True when the capability holds on a system with these modaliases and these installed package names. */
export function modaliasSupplementHolds(capability: string, modaliases: readonly string[], installed: ReadonlySet<string>): boolean {
  const parsed = parseModaliasSupplement(capability);
  if (!parsed) return false;
  if (parsed.package !== undefined && !installed.has(parsed.package)) return false;
  return modaliases.some((m) => modaliasMatches(parsed.glob, m));
}
