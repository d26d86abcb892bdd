// What the checks run and where the repositories are, as a cell's steps see them.
import type { AvailablePackage } from '../packages/available.js';

/** How to run a program the checks name, and what it must print. */
export interface ProgramSpec {
  readonly path: string;
  readonly args: readonly string[];
  /** A fixture program prints "NAME EVR ARCH" of its package: given the installed NEVRA, what it must print. */
  readonly identity?: (installed: AvailablePackage) => string;
  /** The package that ships it. */
  readonly packageName: string;
  /**
   * A shared library, not a program: the dynamic loader looks `soname` up (with `dir` on
   * its search path, glibc-hwcaps subdirectories included) and loads the copy it selects
   * into /bin/true, running its initialisers. `path` is one copy, for messages.
   */
  readonly library?: { readonly soname: string; readonly dir: string };
}

/** A repository as the steps see it: where it is in the guest and what it offers. */
export interface ResolvedRepo {
  /** The id the package manager uses. */
  readonly id: string;
  /** Path in the guest; $releasever is left for the tool to expand. */
  readonly guestPath: string;
  /** What it offers, from its metadata, for a value of $releasever. */
  readonly packages: (releasever: string | undefined) => readonly AvailablePackage[];
  /** An apt repository's suite and components. */
  readonly apt?: { readonly suite: string; readonly components: readonly string[] };
}
