// Which code runs without a CPU check: what the entry points reach through direct calls,
// jumps and address loads, never crossing a checked edge (a function that checks the CPU
// referring to code needing more than itself). Pure: audit-file.ts supplies the graph.
import { nodeLabel, type Condition, type DispatchNode } from './dispatch.js';

export interface ReachFacts {
  readonly nodes: readonly DispatchNode[];
  /** Entry points, each with what it is (the ELF entry, main, an init array entry, an export, an IFUNC resolver). */
  readonly roots: ReadonlyMap<number, string>;
  /**
   * Functions whose references may be checked: those that check the CPU themselves (cpuid,
   * xgetbv, a CPU query, a read of a CPU-feature word), IFUNC resolvers, and callers of a
   * getter (a small check that calls nothing: has_avx2()).
   */
  readonly dispatchers: ReadonlySet<number>;
  /** What the name rules made conditional (IFUNC candidates, variant names): never entered. */
  readonly conditions: readonly (Condition | undefined)[];
  /** Who branches to or loads the address of each node (referrersOf). */
  readonly referrers: readonly (readonly number[])[];
  /** Edges checked inside a function: what only the code behind its test of a CPU-feature word refers to. */
  readonly extraChecked?: ReadonlyMap<number, ReadonlySet<number>>;
}

export interface Reached {
  /** Per node: reached from an entry point without a CPU check. */
  readonly reached: Uint8Array;
  /** Per node: the node it was first reached from (-1 for roots and unreached nodes). */
  readonly parent: Int32Array;
  /** The checked edges: from → the targets it refers to only after a check. */
  readonly checked: ReadonlyMap<number, ReadonlySet<number>>;
}

const SEEDED = new Set(['ifunc', 'ifunc-name', 'variant-name']);

/** Highest level reachable from each node through edges that are not checked: per level, one backward sweep from the nodes at it. */
function reachLevels(nodes: readonly DispatchNode[], checked: ReadonlyMap<number, ReadonlySet<number>>): Int8Array {
  const back: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    const skip = checked.get(i);
    for (const list of [n.calls, n.loads]) for (const t of list) if (!skip?.has(t)) back[t]!.push(i);
  });
  const reach = Int8Array.from(nodes, (n) => n.level);
  const at: number[][] = [];
  nodes.forEach((n, i) => n.level >= 0 && (at[n.level] ??= []).push(i));
  for (let level = at.length - 1; level >= 0; level--) {
    const queue = at[level] ?? [];
    for (let q = 0; q < queue.length; q++) {
      for (const r of back[queue[q]!]!) {
        if (reach[r]! >= level) continue;
        reach[r] = level;
        queue.push(r);
      }
    }
  }
  return reach;
}

/** Twins: two functions within this share of each other's size, of at least TWIN_MIN bytes. */
const TWIN_SHARE = 0.15;
const TWIN_MIN = 128;

/**
 * A function referring to two copies of the same code, one needing more than it and one
 * not (zstd's `HUF_decompress4X1_usingDTable_internal_bmi2` and `_default`, picked by a
 * flag in its context the analysis cannot see): the copy needing more is taken only after
 * a check. Copies are told by size (within 15%, 128 bytes or more): same source,
 * compiled twice, which is only done to choose at run time.
 */
export function twins(nodes: readonly DispatchNode[]): [number, number][] {
  const out: [number, number][] = [];
  const size = (i: number) => nodes[i]!.end - nodes[i]!.start;
  nodes.forEach((n, d) => {
    const floor = Math.max(0, n.level);
    // Most functions refer to nothing needing more than themselves: no copies to compare.
    const above = (t: number) => nodes[t]!.level > floor && size(t) >= TWIN_MIN;
    if (!n.calls.some(above) && !n.loads.some(above)) return;
    const targets = [...new Set([...n.calls, ...n.loads])];
    const high = targets.filter((t) => nodes[t]!.level > floor && size(t) >= TWIN_MIN);
    if (!high.length) return;
    const low = targets.filter((t) => nodes[t]!.level <= floor && size(t) >= TWIN_MIN).map(size);
    for (const t of high) if (low.some((s) => Math.abs(s - size(t)) <= TWIN_SHARE * Math.max(s, size(t)))) out.push([d, t]);
  });
  return out;
}

/** Glue: a function this small, referred to only by functions that check the CPU, counts by what it leads to. */
const GLUE = 512;

/**
 * The checked edges, in two rounds: a dispatcher's reference to a function that itself
 * needs more than the dispatcher (a variant); then to glue — a small function only
 * dispatchers refer to — that leads, through edges not checked, to code needing more.
 * Code at v1 never needs a check.
 */
export function checkedEdges(
  nodes: readonly DispatchNode[],
  dispatchers: ReadonlySet<number>,
  referrers: readonly (readonly number[])[],
  extra: ReadonlyMap<number, ReadonlySet<number>> = new Map(),
): Map<number, Set<number>> {
  const checked = new Map<number, Set<number>>([...extra].map(([from, to]) => [from, new Set(to)]));
  const mark = (from: number, level: (t: number) => number, only: (t: number) => boolean) => {
    const floor = Math.max(0, nodes[from]!.level);
    for (const list of [nodes[from]!.calls, nodes[from]!.loads]) {
      for (const t of list) {
        if (level(t) <= floor || !only(t)) continue;
        let set = checked.get(from);
        if (!set) checked.set(from, (set = new Set()));
        set.add(t);
      }
    }
  };
  for (const d of dispatchers) mark(d, (t) => nodes[t]!.level, () => true);
  for (const [d, t] of twins(nodes)) {
    let set = checked.get(d);
    if (!set) checked.set(d, (set = new Set()));
    set.add(t);
  }
  const reach = reachLevels(nodes, checked);
  const glue = (t: number) => nodes[t]!.end - nodes[t]!.start <= GLUE && referrers[t]!.every((r) => dispatchers.has(r));
  for (const d of dispatchers) mark(d, (t) => reach[t]!, glue);
  return checked;
}

/** Breadth-first from the roots over calls, jumps and address loads that are not checked edges, never into code the name rules made conditional. */
export function reachWithoutCheck(facts: ReachFacts): Reached {
  const { nodes, roots, conditions } = facts;
  const checked = checkedEdges(nodes, facts.dispatchers, facts.referrers, facts.extraChecked);
  const reached = new Uint8Array(nodes.length);
  const parent = new Int32Array(nodes.length).fill(-1);
  const blocked = (i: number) => conditions[i] !== undefined && SEEDED.has(conditions[i]!.rule);
  const queue: number[] = [];
  for (const r of roots.keys()) {
    if (r < 0 || reached[r] || blocked(r)) continue;
    reached[r] = 1;
    queue.push(r);
  }
  for (let q = 0; q < queue.length; q++) {
    const from = queue[q]!;
    const n = nodes[from]!;
    const skip = checked.get(from);
    for (const list of [n.calls, n.loads]) {
      for (const to of list) {
        if (reached[to] || blocked(to) || skip?.has(to)) continue;
        reached[to] = 1;
        parent[to] = from;
        queue.push(to);
      }
    }
  }
  return { reached, parent, checked };
}

/** How node `i` was reached: its entry point and the functions on the way, shortened past six ("main: main → … → f"). */
export function reachChain(facts: Pick<ReachFacts, 'nodes' | 'roots'>, parent: Int32Array, i: number): string {
  const chain: number[] = [];
  for (let at = i; at >= 0 && chain.length < 10_000; at = parent[at]!) chain.push(at);
  chain.reverse();
  const names = chain.map((c) => nodeLabel(facts.nodes[c]!));
  const shown = names.length > 6 ? [...names.slice(0, 2), '…', ...names.slice(-3)] : names;
  return `${facts.roots.get(chain[0]!) ?? 'an entry point'}: ${shown.join(' → ')}`;
}
