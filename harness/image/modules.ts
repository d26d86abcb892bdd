// Kernel module bookkeeping: dependency closures from modules.dep, in load order.

/** Parses modules.dep ("kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz ...") into path -> deps. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    deps.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** A module's name from its path: kernel/fs/9p/9p.ko.xz -> 9p; dashes and underscores are one. */
export function moduleName(path: string): string {
  return (path.split('/').pop() ?? path).replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');
}

export interface ModuleClosure {
  /** Module paths in load order: every module after its dependencies. */
  readonly ordered: readonly string[];
  /** Requested names that modules.dep does not list (built into the kernel, or misspelt). */
  readonly notModules: readonly string[];
}

export function moduleClosure(deps: ReadonlyMap<string, readonly string[]>, names: readonly string[]): ModuleClosure {
  const byName = new Map([...deps.keys()].map((p) => [moduleName(p), p]));
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const dep of deps.get(path) ?? []) visit(dep);
    ordered.push(path);
  };
  const notModules: string[] = [];
  for (const name of names) {
    const path = byName.get(name.replaceAll('-', '_'));
    if (path) visit(path);
    else notModules.push(name);
  }
  return { ordered, notModules };
}
