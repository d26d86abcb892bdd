// The rules that tell code reached only after a CPU check (conditional) from code that
// runs without one, over a file's functions and the references between them. Pure: the
// scan (audit-file.ts) supplies the facts. The rules and their limits, as docs/audit.md
// states them:
//
// (a) glibc-hwcaps: a file under glibc-hwcaps/x86-64-vN/ is loaded only on CPUs the
//     loader found at vN: its code may need up to vN (applied per file in findings.ts).
// (b) IFUNC: an STT_GNU_IFUNC symbol's value, and an R_X86_64_IRELATIVE relocation's
//     addend, is a resolver; the functions whose address a resolver loads (LEA) are its
//     candidates: conditional. A function carrying an ISA token in its name (_avx2,
//     _evex, _sse42, .avx2 of gcc's target_clones, _ZGVd… of the vector ABI) is a
//     variant: conditional — "ifunc-name" when the rest of its name is an IFUNC of the
//     same file (memcpy → __memcpy_avx_unaligned). Not seen: resolvers that take the
//     addresses from a table or through the GOT; variants whose names were stripped
//     (then only rule (c) can find them).
// (c) Dispatch: a function that checks the CPU — contains cpuid or xgetbv, calls a CPU
//     query (__cpu_indicator_init, _dl_x86_get_cpu_features, …), or reads a CPU-feature
//     word (__cpu_model, __cpu_features2, _rtld_global_ro, OPENSSL_ia32cap_P, a word a
//     cpuid function or its small caller stores) — is a dispatcher, and so are its
//     callers and the callers of a small function that calls cpuid (an init_simd). A
//     function is conditional when it leads to code needing more than each dispatcher
//     referring to it (by call, jump, address load, or a pointer table the dispatcher
//     loads), and only dispatchers and conditional code refer to it. Never made
//     conditional by this rule: dispatchers themselves, exported functions, the entry
//     point, code that data points at outside such tables (it may be called from
//     anywhere), code outside any function. Not seen here: flags kept in heap structures
//     (zstd's and libgcrypt's per-context flags: the reachability's flag fields, in
//     audit-file.ts, make them suspect at best), pointers chosen at run time through
//     other routes, dispatch inside one function (a jcc around a block: the
//     reachability's guards), code nothing refers to.
// (d) Everything else is unconditional: it runs without a CPU check.

export interface DispatchNode {
  readonly start: number;
  readonly end: number;
  readonly names: readonly string[];
  /** Code outside every function (or the whole file when it has no boundaries): always unconditional. */
  readonly gap: boolean;
  readonly exported: boolean;
  /** IFUNC names this function resolves. */
  readonly resolverOf: readonly string[];
  /** Highest level index its instructions need; -1: nothing beyond the general-purpose ISA. */
  readonly level: number;
  /** Node indices this one branches to (call, jmp, jcc). */
  readonly calls: readonly number[];
  /** Node indices whose address this one loads (RIP-relative LEA). */
  readonly loads: readonly number[];
}

export interface DispatchFacts {
  readonly nodes: readonly DispatchNode[];
  /** Resolver node → the IFUNC (or IRELATIVE) it resolves, for nodes without an IFUNC symbol of their own. */
  readonly resolvers: ReadonlyMap<number, string>;
  /** Nodes something unseen may enter: the entry point, targets of data pointers. */
  readonly roots: ReadonlySet<number>;
  /** Dispatchers (dispatchersOf), with why each is one. */
  readonly dispatchers: ReadonlyMap<number, string>;
  /** referrersOf(nodes), when the caller has it already. */
  readonly referrers?: readonly (readonly number[])[];
}

/** Referrers of each node: who branches to it or loads its address. */
export function referrersOf(nodes: readonly DispatchNode[]): number[][] {
  const referrers: number[][] = nodes.map(() => []);
  const last = new Int32Array(nodes.length).fill(-1);
  nodes.forEach((n, i) => {
    for (const list of [n.calls, n.loads]) {
      for (const t of list) {
        if (t === i || last[t] === i) continue;
        last[t] = i;
        referrers[t]!.push(i);
      }
    }
  });
  return referrers;
}

/**
 * Dispatchers: the functions that check the CPU (`checks`: cpuid, a CPU query, a
 * CPU-feature word), the functions that call one of them, the callers of a small
 * function that calls cpuid (libjpeg-turbo's init_simd: its callers test the flags it
 * set), and IFUNC resolvers.
 */
export function dispatchersOf(
  nodes: readonly DispatchNode[],
  checks: ReadonlyMap<number, string>,
  resolvers: ReadonlyMap<number, string>,
  setups: ReadonlySet<number> = new Set(),
  referrers: readonly (readonly number[])[] = referrersOf(nodes),
): Map<number, string> {
  const dispatchers = new Map(checks);
  nodes.forEach((n, i) => {
    if (n.resolverOf.length || resolvers.has(i)) dispatchers.set(i, dispatchers.get(i) ?? 'is an IFUNC resolver');
  });
  for (const [k, how] of checks) {
    for (const r of referrers[k]!) if (!dispatchers.has(r)) dispatchers.set(r, `calls ${nodeLabel(nodes[k]!)}, which ${how}`);
  }
  for (const s of setups) {
    if (!dispatchers.has(s)) continue;
    for (const r of referrers[s]!) if (!dispatchers.has(r)) dispatchers.set(r, `calls ${nodeLabel(nodes[s]!)}, which ${dispatchers.get(s)}`);
  }
  return dispatchers;
}

/** What each node needs with everything it calls: the highest level reachable from it through direct calls. */
export function reachLevels(nodes: readonly DispatchNode[]): number[] {
  const reach = nodes.map((n) => n.level);
  // Levels only rise, at most once per level: a few rounds reach the fixpoint.
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = nodes.length - 1; i >= 0; i--) {
      let r = reach[i]!;
      for (const c of nodes[i]!.calls) if (reach[c]! > r) r = reach[c]!;
      if (r > reach[i]!) {
        reach[i] = r;
        changed = true;
      }
    }
  }
  return reach;
}

export type ConditionRule = 'ifunc' | 'ifunc-name' | 'variant-name' | 'dispatch' | 'only-from-conditional';

export interface Condition {
  readonly rule: ConditionRule;
  readonly detail: string;
}

// ISA tokens in variant names, between _ . or the name's ends (.avx2.0, _avx2_unaligned).
const ISA_TOKEN =
  /(?:^|[_.])(sse2|sse3|ssse3|sse4(?:_?[12])?|avx|avx2|avx512\w*|avx10\w*|avx_vnni|evex\w*|fma4?|f16c|bmi2?|lzcnt|popcnt|movbe|aesni|vaes|v?pclmul\w*|sha_?ni|gfni|ifma\w*|(?:arch_)?x86_64_v[234]|haswell|broadwell|skylake\w*|icelake\w*|znver\d|sandybridge|ivybridge|nehalem|westmere)(?=$|[_.])/i;
// gcc's target_clones resolver and the helpers that test for a feature are not variants.
const NOT_A_VARIANT = /(resolver|^has_|_has_|check|detect|supports?|cpu_?init|cpuid|cpu_features|enabled)/i;
// x86 vector function ABI: _ZGV<isa><mask><len>… with b = SSE, c = AVX, d = AVX2, e = AVX-512.
const VECTOR_ABI = /^_ZGV[bcde][NM]\d/;

const baseName = (name: string): string => name.replace(/^_+/, '');
export const nodeLabel = (n: Pick<DispatchNode, 'names' | 'start'>): string => n.names[0] ?? `fn@0x${n.start.toString(16)}`;

/** The variant-name rule alone: the ISA token or vector-ABI prefix a name carries, if any. */
export function variantToken(name: string): string | undefined {
  if (VECTOR_ABI.test(name)) return `vector ABI ${name.slice(0, 5)}`;
  if (NOT_A_VARIANT.test(name)) return undefined;
  return ISA_TOKEN.exec(name)?.[1];
}

/** Functions that branch to, or load the address of, a function that needs (or leads to code that needs) a higher level than they do: the only possible dispatchers. */
export function dispatchCandidates(nodes: readonly DispatchNode[], reach: readonly number[] = reachLevels(nodes)): number[] {
  const out: number[] = [];
  nodes.forEach((n, i) => {
    if (n.calls.some((t) => reach[t]! > n.level) || n.loads.some((t) => reach[t]! > n.level)) out.push(i);
  });
  return out;
}

/** Classifies every node: a Condition for conditional code, undefined for code that runs without a CPU check. */
export function classify(facts: DispatchFacts): (Condition | undefined)[] {
  const { nodes, roots, dispatchers } = facts;
  const result: (Condition | undefined)[] = new Array(nodes.length).fill(undefined);
  const label = (i: number) => nodeLabel(nodes[i]!);

  // (b) IFUNC candidates: what resolvers load.
  const ifuncNames = new Set<string>();
  nodes.forEach((n, i) => {
    const resolves = n.resolverOf.length ? n.resolverOf.join(', ') : facts.resolvers.get(i);
    if (!resolves) return;
    for (const name of n.resolverOf) ifuncNames.add(baseName(name));
    for (const t of n.loads) {
      if (t !== i && !nodes[t]!.gap && !result[t]) result[t] = { rule: 'ifunc', detail: `candidate of IFUNC ${resolves} (resolver ${label(i)})` };
    }
  });
  // (b) Names: a variant of an IFUNC of this file, or any name with an ISA token.
  nodes.forEach((n, i) => {
    if (result[i] || n.gap) return;
    for (const name of n.names) {
      const token = variantToken(name);
      if (!token) continue;
      const base = baseName(name);
      const family = [...ifuncNames].find((f) => base.startsWith(`${f}_`) || base.startsWith(`${f}.`));
      result[i] = family ? { rule: 'ifunc-name', detail: `named as the ${token} variant of IFUNC ${family}` } : { rule: 'variant-name', detail: `named as an ${token} variant (${name})` };
      return;
    }
  });

  // (c) Dispatch, as a greatest fixpoint: start from every node something refers to and
  // nothing unseen may enter, drop each one an unconditional non-dispatcher refers to.
  const referrers = facts.referrers ?? referrersOf(nodes);
  const seeded = result.map((c) => c !== undefined);
  // A function that checks the CPU (or dispatches) runs without a check itself.
  const inSet = nodes.map((n, i) => seeded[i]! || (!n.gap && !n.exported && !roots.has(i) && !dispatchers.has(i) && referrers[i]!.length > 0));
  const reach = reachLevels(nodes);
  const admits = (r: number, t: number): boolean => inSet[r]! || (dispatchers.has(r) && reach[t]! > nodes[r]!.level);
  const work = nodes.map((_, i) => i).filter((i) => inSet[i] && !seeded[i]);
  while (work.length) {
    const t = work.pop()!;
    if (!inSet[t] || seeded[t]) continue;
    if (referrers[t]!.every((r) => admits(r, t))) continue;
    inSet[t] = false;
    for (const u of nodes[t]!.calls) if (inSet[u] && !seeded[u]) work.push(u);
    for (const u of nodes[t]!.loads) if (inSet[u] && !seeded[u]) work.push(u);
  }
  nodes.forEach((_, i) => {
    if (!inSet[i] || seeded[i]) return;
    const viaDispatcher = referrers[i]!.find((r) => !inSet[r]);
    result[i] =
      viaDispatcher !== undefined
        ? { rule: 'dispatch', detail: `reached from ${label(viaDispatcher)}, which ${dispatchers.get(viaDispatcher)}` }
        : { rule: 'only-from-conditional', detail: `referred to only by conditional code (${label(referrers[i]![0]!)})` };
  });
  return result;
}
