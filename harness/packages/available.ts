// Questions about what enabled repositories offer a CPU: the newest version it runs,
// and the best variant of that version. Pure.
import { archRank, runsAt } from '../levels/arch.js';
import type { LevelName } from '../levels/table.js';
import { compareEvr, formatEvr, type Evr } from './evr.js';

export interface AvailablePackage extends Evr {
  readonly name: string;
  readonly arch: string;
}

/** "NAME-[EPOCH:]VERSION-RELEASE.ARCH". */
/** "NAME-[EPOCH:]VERSION-RELEASE.ARCH", the epoch only when it is a number other than 0: how the installed set, the drivers, the forensics and messages spell a package. */
export function formatNevra(name: string, epoch: string | number | undefined, versionRelease: string, arch: string): string {
  return `${name}-${Number(epoch) ? `${epoch}:` : ''}${versionRelease}.${arch}`;
}

export const nevraString = (p: AvailablePackage): string => formatNevra(p.name, p.epoch, `${p.version}-${p.release}`, p.arch);
/** "[EPOCH:]VERSION-RELEASE.ARCH". */
export const evraString = (p: Evr & { readonly arch: string }): string => `${formatEvr(p)}.${p.arch}`;

/** The newest build of `name` a CPU at `level` runs (any arch it runs). */
export function newestRunnable<P extends AvailablePackage>(name: string, level: LevelName, available: readonly P[]): P | undefined {
  let best: P | undefined;
  for (const p of available) {
    if (p.name !== name || !runsAt(p.arch, level)) continue;
    if (!best || compareEvr(p, best) > 0) best = p;
  }
  return best;
}

/**
 * The best variant of `name` for a CPU at `level`: the newest version it runs, in the
 * highest arch it runs among that version's builds. What the Fedora proposal promises
 * ("automatically install x86_64_v3 packages when available") without giving up a
 * newer version for a better arch.
 */
export function bestVariant<P extends AvailablePackage>(name: string, level: LevelName, available: readonly P[]): P | undefined {
  const newest = newestRunnable(name, level, available);
  if (!newest) return undefined;
  return available
    .filter((p) => p.name === name && runsAt(p.arch, level) && compareEvr(p, newest) === 0)
    .sort((a, b) => archRank(b.arch) - archRank(a.arch))[0];
}

/** Names with builds in more than one arch (what a variant audit looks at). */
export function namesWithVariants(available: readonly AvailablePackage[]): string[] {
  const arches = new Map<string, Set<string>>();
  for (const p of available) {
    if (!arches.has(p.name)) arches.set(p.name, new Set());
    arches.get(p.name)!.add(p.arch);
  }
  return [...arches.entries()].filter(([, a]) => a.size > 1).map(([n]) => n).sort();
}

/** Parses an installed "NAME-[EPOCH:]VERSION-RELEASE.ARCH" string. */
export function parseNevra(text: string): AvailablePackage | undefined {
  const m = /^(.+)-(?:(\d+):)?([^-:]+)-([^-]+)\.([^.]+)$/.exec(text);
  return m ? { name: m[1]!, epoch: Number(m[2] ?? 0), version: m[3]!, release: m[4]!, arch: m[5]! } : undefined;
}
