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

const SIGNATURE_MARKER = Buffer.from('~Module signature appended~\n');
/** struct module_signature: algo, hash, id_type, signer_len, key_id_len, pad[3], sig_len (be32). */
const SIGNATURE_INFO_BYTES = 12;

/**
 * A module without its appended signature. Under Bochs the kernel's check of each
 * signature (SHA-512 over the whole module, in software) is a visible part of boot; an
 * unsigned module loads the same, with a one-time "tainting kernel" notice, since
 * Debian's kernel does not enforce signatures.
 */
export function stripModuleSignature(module: Buffer): Buffer {
  if (module.length < SIGNATURE_MARKER.length + SIGNATURE_INFO_BYTES) return module;
  if (!module.subarray(module.length - SIGNATURE_MARKER.length).equals(SIGNATURE_MARKER)) return module;
  const info = module.length - SIGNATURE_MARKER.length - SIGNATURE_INFO_BYTES;
  const signatureBytes = module.readUInt32BE(info + 8);
  const end = info - signatureBytes;
  return end > 0 ? module.subarray(0, end) : module;
}
