// One ELF file's audit: read it, find its functions, scan them with iced-x86, apply the
// dispatch rules, and summarise what its code needs with and without a CPU check.
// Runs in a worker thread; everything it returns is plain data.
import { closeSync, openSync, readSync } from 'node:fs';
import { LEVEL_NAMES, type LevelName } from '../levels/table.js';
import { classify, dispatchCandidates, dispatchersOf, nodeLabel, reachLevels, referrersOf, type Condition, type DispatchNode } from './dispatch.js';
import { callArguments, type ArgumentSources, type CallArguments } from './args.js';
import { dropComparedLoads } from './compared.js';
import { ehFrameRanges } from './eh-frame.js';
import { goFunctions } from './go-pclntab.js';
import { reachChain, reachWithoutCheck, type Reached, type ReachFacts } from './reach.js';
import { ElfError, ElfUnsupported, ET_EXEC, ET_REL, probeElf, readBytes, readElf, STT_FUNC, STT_GNU_IFUNC, type ElfFile } from './elf.js';
import { functionIndexAt, functionRanges, splitAtEntries, type FunctionRange } from './functions.js';
import { CODES, examplesIn, flagFieldStores, guardSources, guardSplit, couldGuard, memoryAccesses, pltJumps, scanPiece, type Example, type GuardContext, type GuardSources, type GuardSplit, type MemoryAccesses, type ScannedPiece } from './isa.js';
import { summarise, tallyCodes, type Tally } from './level.js';
import type { ConditionalCode, ConditionalFunction, ExampleInstruction, FileAudit, FunctionLevel, IsaSummary, UnresolvedCode } from './types.js';
import { hwcapsDirLevel } from '../levels/loader.js';

/** Imports that answer "what does this CPU have?". */
const CPU_QUERIES = new Set(['__cpu_indicator_init', '__get_cpu_features', '_dl_x86_get_cpu_features', '__x86_get_cpu_features', '__x86_get_cpuid_feature_leaf', 'OPENSSL_ia32_cpuid']);
/** Data that holds CPUID results: gcc's __builtin_cpu_supports, glibc's, OpenSSL's, and words named alike. */
const CPU_WORD = /^(__cpu_model|__cpu_features2|_rtld_global_ro|_dl_x86_cpu_features|OPENSSL_ia32cap_P)$|cpu_?(features|flags|caps|model)|ia32cap|simd_support|x86_cpu/i;
/** Go's functions that fill its CPU-feature flags. */
const GO_CPU_SETUP = /^(internal\/cpu\.doinit|runtime\.cpuinit|(vendor\/)?golang\.org\/x\/sys\/cpu\.(archInit|initOptions))$/;
/** How close a read must be to a word a CPU check writes (the word's siblings in the same structure count). */
const WORD_WINDOW = 32;
/** Callers of a CPU check up to this size are searched for the words they store. */
const SMALL_CALLER = 2048;
const EXAMPLES_PER_FEATURE = 3;
/** A check this small, calling nothing but a CPU query or a small init, is a getter: its callers test what it returns. */
const GETTER = 256;
const MAX_LISTED = 100;

const hex = (n: number): string => `0x${n.toString(16)}`;

function head(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(64);
    const n = readSync(fd, b, 0, 64, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Audits the ELF file at `path`, reported under `shownAs`. Never throws: a problem is the record's reason. */
export function auditFile(path: string, shownAs: string = path): FileAudit {
  const started = performance.now();
  const done = (record: Omit<FileAudit, 'milliseconds' | 'path'>): FileAudit => ({ path: shownAs, ...record, milliseconds: Math.round(performance.now() - started) });
  let elf: ElfFile;
  try {
    const probe = probeElf(head(path));
    if (probe.kind !== 'elf') return done({ status: 'skipped', reason: probe.reason, codeBytes: 0 });
    elf = readElf(path);
  } catch (error) {
    if (error instanceof ElfUnsupported) return done({ status: 'skipped', reason: error.message, codeBytes: 0 });
    if (error instanceof ElfError) return done({ status: 'error', reason: `${error.message}; the file cannot be audited (check how it was built or copied)`, codeBytes: 0 });
    return done({ status: 'error', reason: `cannot read it: ${(error as Error).message}`, codeBytes: 0 });
  }
  try {
    return done(auditElf(elf, shownAs));
  } catch (error) {
    if (error instanceof ElfError) return done({ status: 'error', reason: `${error.message}; the file cannot be audited`, codeBytes: 0 });
    throw error;
  }
}

interface Scanned {
  readonly fn: FunctionRange;
  readonly scan: ScannedPiece;
  readonly bytes: Uint8Array;
}

type Node = DispatchNode & { readonly calls: number[]; loads: number[] };

/**
 * One ELF file, phase by phase: read its code, find and scan its functions, build the
 * call graph, find the CPU checks and dispatch, reach from the entry points (split at
 * guards), tally what each side needs, and summarise.
 */
function auditElf(input: ElfFile, shownAs: string): Omit<FileAudit, 'milliseconds' | 'path'> {
  const notes: string[] = [];
  const code = readCode(input, notes);
  const { functions, scanned } = scanFunctions(code);
  const graph = buildGraph(code.elf, functions, scanned);
  const dispatch = findDispatch(code.elf, graph, scanned);
  const guards = guardFacts(code.elf, graph, scanned, dispatch);
  const reach = reachFromEntries(code.elf, graph, scanned, dispatch, guards);
  const sides = tallySides(scanned, reach, code.elf.bits);
  if (sides.rejectedBytes) notes.push(`${sides.rejectedBytes} bytes between functions decode to invalid or privileged instructions: data, left out`);
  return summariseFile({ code, notes, functions, scanned, graph, dispatch, guards, reach, sides, loaderLevel: hwcapsDirLevel(shownAs) });
}

/** The file's code: the ELF (with a stripped Go program's functions from .gopclntab), its bytes per code range, its FDEs. */
interface FileCode {
  readonly elf: ElfFile;
  readonly go: boolean;
  readonly codeBytes: number;
  readonly fdes: readonly { start: number; end: number }[];
  readonly ranges: readonly { range: ElfFile['code'][number]; bytes: Uint8Array }[];
  /** A non-PIE executable takes function addresses as immediates (mov $fn, …): the span of its code, to watch those too. */
  readonly immediates: { low: number; high: number } | undefined;
}

function readCode(input: ElfFile, notes: string[]): FileCode {
  // A stripped Go program keeps its function table in .gopclntab: names and boundaries.
  const go = input.symbols.some((s) => !s.dynamic && s.shndx !== 0 && s.type === STT_FUNC) ? [] : goFunctions(input);
  const elf: ElfFile = go.length ? { ...input, symbols: [...input.symbols, ...go] } : input;
  const codeBytes = elf.code.reduce((sum, c) => sum + c.size, 0);
  let fdes: { start: number; end: number }[] = [];
  if (elf.ehFrame) {
    const eh = ehFrameRanges(readBytes(elf.path, elf.ehFrame.offset, elf.ehFrame.size), elf.ehFrame, elf.bits);
    fdes = [...eh.ranges];
    if (eh.problem) notes.push(`.eh_frame is damaged (${eh.problem}); ${fdes.length} FDEs before the damage are used`);
  }
  const ranges = elf.code.map((c) => ({ range: c, bytes: readBytes(elf.path, c.offset, c.size) }));
  const immediates = elf.type === ET_EXEC && ranges.length ? { low: Math.min(...elf.code.map((c) => c.addr)), high: Math.max(...elf.code.map((c) => c.addr + c.size)) } : undefined;
  return { elf, go: go.length > 0, codeBytes, fdes, ranges, immediates };
}

/**
 * Pass 1: every function and gap; then gaps are split where other code enters them
 * (hand-written assembly without symbols or CFI) and those pieces scanned again.
 */
function scanFunctions(code: FileCode): { functions: FunctionRange[]; scanned: Scanned[] } {
  const { elf, ranges, immediates } = code;
  const scanAll = (functions: readonly FunctionRange[], trustedGaps: ReadonlySet<number> = new Set()): Scanned[] => {
    let r = 0;
    return functions.map((fn) => {
      while (r < ranges.length && fn.start >= ranges[r]!.range.addr + ranges[r]!.range.size) r++;
      const { range, bytes: all } = ranges[r]!;
      const bytes = all.subarray(fn.start - range.addr, fn.end - range.addr);
      const trusted = fn.source === 'symbol' || fn.source === 'fde' || fn.source === 'code' || trustedGaps.has(fn.start);
      return { fn, bytes, scan: scanPiece(bytes, fn.start, elf.bits, trusted, immediates) };
    });
  };
  const functions = functionRanges(elf, code.fdes);
  const scanned = scanAll(functions);
  const spans = functions.map((f) => ({ start: f.start, end: f.end }));
  const entries = new Map<number, number[]>();
  const enter = (addr: number) => {
    const i = functionIndexAt(spans, addr);
    const f = functions[i];
    if (!f || (f.source !== 'gap' && f.source !== 'code') || addr <= f.start) return;
    const list = entries.get(i);
    if (list) list.push(addr);
    else entries.set(i, [addr]);
  };
  scanned.forEach(({ scan, fn }) => {
    for (const t of scan.branchTargets) enter(t);
    for (const t of scan.addressLoads) enter(t);
    if (fn.source === 'gap' || fn.source === 'code') for (const t of scan.innerEntries) enter(t);
  });
  if (!entries.size) return { functions, scanned };
  const fresh = new Set<FunctionRange>();
  const trustedGaps = new Set<number>();
  const split = functions.flatMap((f, i) => {
    const at = entries.get(i);
    if (!at) return [f];
    const pieces = splitAtEntries(f, at);
    for (const p of pieces) {
      fresh.add(p);
      if (f.source === 'code') trustedGaps.add(p.start);
    }
    return pieces;
  });
  const rescanned = new Map(scanAll(split.filter((f) => fresh.has(f)), trustedGaps).map((s) => [s.fn, s]));
  const before = new Map(scanned.map((s) => [s.fn, s]));
  return { functions: split, scanned: split.map((f) => rescanned.get(f) ?? before.get(f)!) };
}

/** The call graph: a node per function, its calls (through PLT stubs to this file's own exports too) and address loads; the imports each calls. */
interface Graph {
  readonly nodes: Node[];
  readonly nodeAt: (address: number) => number;
  /** A PLT stub's import name. */
  readonly plt: (address: number) => string | undefined;
  /** This file's functions by name. */
  readonly defined: ReadonlyMap<string, number>;
  readonly imports: ReadonlyMap<number, string[]>;
}

function buildGraph(elf: ElfFile, functions: readonly FunctionRange[], scanned: readonly Scanned[]): Graph {
  const spans = functions.map((f) => ({ start: f.start, end: f.end }));
  const nodeAt = (addr: number): number => functionIndexAt(spans, addr);
  // Calls through PLT stubs: to an import (named), or to this file's own exported function.
  const plt = pltResolver(elf);
  const defined = new Map<string, number>();
  for (const s of elf.symbols) if (s.shndx !== 0 && s.type === STT_FUNC && s.name) defined.set(s.name, s.value);
  const imports = new Map<number, string[]>();
  const seen = new Int32Array(functions.length).fill(-1);
  const seenLoad = new Int32Array(functions.length).fill(-1);
  const nodes: Node[] = scanned.map(({ fn, scan }, i) => {
    const calls: number[] = [];
    const loads: number[] = [];
    const add = (list: number[], t: number) => {
      if (t >= 0 && t !== i && seen[t] !== i) {
        seen[t] = i;
        list.push(t);
      }
    };
    for (const t of scan.branchTargets) {
      const name = plt(t);
      if (name === undefined) add(calls, nodeAt(t));
      else {
        const list = imports.get(i);
        if (list) list.push(name);
        else imports.set(i, [name]);
        const local = defined.get(name);
        if (local !== undefined) add(calls, nodeAt(local));
      }
    }
    for (const t of scan.addressLoads) {
      const j = nodeAt(t);
      if (j >= 0 && j !== i && seenLoad[j] !== i) {
        seenLoad[j] = i;
        loads.push(j);
      }
    }
    return { start: fn.start, end: fn.end, names: fn.names, gap: fn.source === 'gap' || fn.source === 'code', exported: fn.exported, resolverOf: fn.resolverOf, level: scan.level, calls, loads };
  });
  return { nodes, nodeAt, plt, defined, imports };
}

/** Who checks the CPU and who dispatches: resolvers, checks, the words they read, pointer tables adopted, the name and dispatch rules' conditions. */
interface DispatchFacts {
  readonly resolvers: Map<number, string>;
  readonly checks: Map<number, string>;
  readonly words: CpuWord[];
  /** The highest level reachable from each node through direct calls (with the adopted tables' loads). */
  readonly reachAll: readonly number[];
  /** Functions that may hold a guard: those needing v2 or more themselves, and those leading to more than they need. */
  readonly mayGuard: Uint8Array;
  readonly dispatchers: Map<number, string>;
  /** Data slots adopted as a dispatcher's pointer table. */
  readonly owned: ReadonlySet<number>;
  /** The functions an address leads to: the one it starts, or the entries of a pointer table a dispatcher picks. */
  readonly targetsOf: (address: number) => readonly number[];
  /** Who refers to each node (with the adopted tables' loads). */
  readonly refs: readonly (readonly number[])[];
  readonly conditions: (Condition | undefined)[];
}

function findDispatch(elf: ElfFile, graph: Graph, scanned: readonly Scanned[]): DispatchFacts {
  const { nodes, nodeAt, imports } = graph;
  const resolvers = new Map<number, string>();
  for (const a of elf.irelative) {
    const i = nodeAt(a);
    if (i >= 0 && !nodes[i]!.resolverOf.length) resolvers.set(i, `IRELATIVE resolver at ${hex(a)}`);
  }
  for (const s of elf.symbols) {
    if (s.type !== STT_GNU_IFUNC || s.shndx === 0) continue;
    const i = nodeAt(s.value);
    if (i >= 0 && !nodes[i]!.resolverOf.length) resolvers.set(i, s.name);
  }
  const memory = new MemoryMemo(scanned, elf.bits);
  // An address only compared (OpenSSL's `ctx->ghash == gcm_ghash_avx`) is no call: not an edge.
  let reachAll = reachLevels(nodes);
  if (dropComparedLoads(nodes, scanned.map(({ fn, bytes }) => ({ start: fn.start, bytes })), nodeAt, reachAll, elf.bits)) reachAll = reachLevels(nodes);
  const { checks, setups, words } = findCpuChecks(elf, nodes, scanned, imports, memory, nodeAt, reachAll);
  const mayGuard = new Uint8Array(nodes.length);
  for (const i of dispatchCandidates(nodes, reachAll)) mayGuard[i] = 1;
  nodes.forEach((n, i) => n.level >= 1 && (mayGuard[i] = 1));
  const referrers = referrersOf(nodes);
  const dispatchers = dispatchersOf(nodes, checks, resolvers, setups, referrers);
  // Pointer tables a dispatcher reads (xxhash's XXH_kDispatch[]): their entries are
  // that dispatcher's picks, not entry points for anyone.
  const { owned, tables } = adoptDispatchTables(elf, nodes, dispatchers, memory, nodeAt, scanned);
  // (libgcrypt's keccak_init: `lea rax, keccak_bmi2_64_ops` behind `test ecx, HWF_INTEL_BMI2`).
  const targetsOf = (a: number): readonly number[] => (nodeAt(a) >= 0 ? [nodeAt(a)] : tables.get(a) ?? []);
  const roots = new Set<number>([nodeAt(elf.entry), ...elf.dataRefs.filter((d) => !owned.has(d.at)).map((d) => nodeAt(d.target))].filter((i) => i >= 0));
  // Dispatch tables added loads: the referrers change with them, and what their dispatchers lead to.
  const refs = owned.size ? referrersOf(nodes) : referrers;
  if (owned.size) {
    reachAll = reachLevels(nodes);
    for (const i of dispatchCandidates(nodes, reachAll)) mayGuard[i] = 1;
  }
  const conditions = classify({ nodes, resolvers, roots, dispatchers, referrers: refs });
  return { resolvers, checks, words, reachAll, mayGuard, dispatchers, owned, targetsOf, refs, conditions };
}

/** What tells a guard: the CPU-feature words, getters (has_avx2()), flag fields (libgcrypt's use_avx2, zstd's bmi2); and the entry points. */
interface GuardFacts {
  /** The entry points: the ELF entry, main, the init and fini arrays, exports, IFUNC resolvers. */
  readonly entryPoints: Map<number, string>;
  readonly isCpuWord: (address: number) => boolean;
  /** A call target that is a getter, through its PLT stub too when the getter is exported. */
  readonly getterAt: (target: number) => boolean;
  readonly hasGetters: boolean;
  /** Displacements of the structure fields that functions checking the CPU store a feature into. */
  readonly flagFields: Set<number>;
  /** The functions whose references the reachability may treat as checked. */
  readonly dispatchingFunctions: Set<number>;
  /** Functions pointed at from data (not from an adopted table). */
  readonly fromData: Set<number>;
}

function guardFacts(elf: ElfFile, graph: Graph, scanned: readonly Scanned[], dispatch: DispatchFacts): GuardFacts {
  const { nodes, nodeAt, plt, defined, imports } = graph;
  const { checks, resolvers, refs, owned } = dispatch;
  const entryPoints = entryPointsOf(elf, nodes, resolvers, nodeAt);
  const isCpuWord = cpuWordTest(dispatch.words);
  const getters = gettersOf(nodes, checks, imports);
  const getterAt = (target: number) => {
    const name = plt(target);
    const local = name === undefined ? target : defined.get(name);
    return local !== undefined && getters.has(nodeAt(local));
  };
  const flagFields = new Set<number>();
  const writers = new Set<number>(checks.keys());
  for (const g of getters) for (const r of refs[g]!) writers.add(r);
  for (const w of writers) {
    const { bytes, fn } = scanned[w]!;
    for (const d of flagFieldStores(bytes, fn.start, elf.bits, isCpuWord, getterAt)) flagFields.add(d);
  }
  const dispatchingFunctions = checkingFunctions(nodes, checks, resolvers, refs, imports);
  const fromData = new Set(elf.dataRefs.filter((d) => !owned.has(d.at)).map((d) => nodeAt(d.target)));
  return { entryPoints, isCpuWord, getterAt, hasGetters: getters.size > 0, flagFields, dispatchingFunctions, fromData };
}

/** One reach from the entry points: the functions split at their guards, the graph with their open levels, and what was reached. */
interface ReachPass {
  readonly splits: Map<number, GuardSplit | null>;
  readonly reachFacts: ReachFacts;
  readonly result: Reached;
}

/** What runs without a check: reached first without flag fields, then (if any) with them; what only the first reaches is reached only past tests of flag fields. */
interface FileReach {
  readonly withFields: ReachPass;
  readonly withoutFields: ReachPass;
  /** Per node not reached: why it is conditional, if it is. */
  readonly placed: (Condition | undefined)[];
}

function reachFromEntries(elf: ElfFile, graph: Graph, scanned: readonly Scanned[], dispatch: DispatchFacts, guards: GuardFacts): FileReach {
  const { nodes } = graph;
  const targetLevel = levelAt(dispatch.targetsOf, dispatch.reachAll);
  // What each function could test (read once, shared by both passes): most test nothing and need no guard walk.
  const sources: (GuardSources | undefined)[] = new Array(nodes.length);
  const sourcesOf = (i: number): GuardSources => (sources[i] ??= guardSources(scanned[i]!.bytes, scanned[i]!.fn.start, elf.bits));
  // A function without flag arguments none of whose fields is a flag field splits the same in both passes: split once.
  const plainSplits = new Map<number, GuardSplit | null>();
  const run = (context: GuardContext) => reachPass({ elf, graph, scanned, dispatch, guards, sourcesOf, plainSplits }, context);
  // Without flag fields first: what that reaches and the pass with them does not is reached
  // only past tests of flag fields, which tie a field to a CPU check by its offset alone.
  const withoutFields = run({ isGetter: guards.getterAt, targetLevel });
  const withFields = guards.flagFields.size ? run({ isGetter: guards.getterAt, targetLevel, flagFields: guards.flagFields }) : withoutFields;
  const { reached, checked } = withFields.result;
  return { withFields, withoutFields, placed: afterCheck(nodes, reached, checked, dispatch.conditions, dispatch.dispatchers) };
}

/** The level an address leads to, by `levels`: its function's, or the highest of a pointer table's entries. */
const levelAt =
  (targetsOf: (address: number) => readonly number[], levels: readonly number[]) =>
  (a: number): number =>
    targetsOf(a).reduce((top, t) => Math.max(top, levels[t]!), -1);

/** The reach, redone while reached functions that test a CPU-feature value split at their guards. */
function reachPass(
  facts: { elf: ElfFile; graph: Graph; scanned: readonly Scanned[]; dispatch: DispatchFacts; guards: GuardFacts; sourcesOf: (i: number) => GuardSources; plainSplits: Map<number, GuardSplit | null> },
  context: GuardContext,
): ReachPass {
  const { elf, graph: fileGraph, scanned, dispatch, guards, sourcesOf, plainSplits } = facts;
  const { nodes, nodeAt } = fileGraph;
  const { reachAll, mayGuard, targetsOf, refs, conditions } = dispatch;
  const { entryPoints, isCpuWord, getterAt, fromData } = guards;
  const splits = new Map<number, GuardSplit | null>();
  const extraChecked = new Map<number, Set<number>>();
  let graph: readonly Node[] = nodes;
  let reachFacts: ReachFacts = { nodes: graph, roots: entryPoints, dispatchers: guards.dispatchingFunctions, conditions, referrers: refs, extraChecked };
  let result = reachWithoutCheck(reachFacts);
  const flagArgumentsOf = flagArgumentFinder({ nodes, scanned, refs, nodeAt, bits: elf.bits, closed: (i) => entryPoints.has(i) || fromData.has(i) || nodes[i]!.exported, sources: { isCpuWord, isGetter: getterAt, ...(context.flagFields ? { flagFields: context.flagFields } : {}) } });
  // Functions with flag arguments whose guards had no side needing more: tried again once the levels behind their calls fall.
  const retry = new Set<number>();
  let levels: readonly number[] = reachAll;
  const splitAt = (i: number): GuardSplit | null => {
    const { bytes, fn } = scanned[i]!;
    // Only a function leading to more than it needs can guard that code behind an argument.
    const flagArguments = reachAll[i]! > Math.max(0, nodes[i]!.level) ? flagArgumentsOf(i) : NO_SLOTS;
    if (!flagArguments.size) {
      const sources = sourcesOf(i);
      const { flagFields } = context;
      const known = plainSplits.get(i);
      if (known !== undefined && !sources.fields.some((d) => flagFields?.has(d))) return known;
      const found = couldGuard(sources, isCpuWord, context) ? (guardSplit(bytes, fn.start, elf.bits, isCpuWord, context) ?? null) : null;
      if (!flagFields) plainSplits.set(i, found);
      return found;
    }
    const found = guardSplit(bytes, fn.start, elf.bits, isCpuWord, { ...context, flagArguments, targetLevel: levelAt(targetsOf, levels) }) ?? null;
    if (!found?.guards) retry.add(i);
    else retry.delete(i);
    return found;
  };
  for (let round = 0; round < 8 && (dispatch.words.length || guards.hasGetters || context.flagFields?.size); round++) {
    let fresh = 0;
    for (const i of [...retry]) {
      const found = splitAt(i);
      if (!found?.guards) continue;
      splits.set(i, found);
      fresh++;
      const targets = new Set(found.guardedTargets.flatMap(targetsOf).filter((t) => t !== i));
      if (targets.size) extraChecked.set(i, targets);
    }
    result.reached.forEach((r, i) => {
      if (!r || !mayGuard[i] || splits.has(i)) return;
      const split = splitAt(i);
      splits.set(i, split);
      if (!split) return;
      fresh++;
      const floor = Math.max(0, split.open.level);
      const exits = split.guardExits.map(nodeAt).filter((t) => t >= 0 && t !== i && reachAll[t]! > floor);
      const targets = new Set([...split.guardedTargets.flatMap(targetsOf).filter((t) => t !== i), ...exits]);
      if (targets.size) extraChecked.set(i, targets);
    });
    if (!fresh) break;
    graph = nodes.map((n, i) => {
      const split = splits.get(i);
      return split ? { ...n, level: split.open.level } : n;
    });
    reachFacts = { ...reachFacts, nodes: graph };
    result = reachWithoutCheck(reachFacts);
    if (retry.size) levels = reachLevels(graph.map((n, i) => (extraChecked.has(i) ? { ...n, calls: n.calls.filter((t) => !extraChecked.get(i)!.has(t)) } : n)));
  }
  return { splits, reachFacts, result };
}

/** One side of the file's code (reached without a check, after one, unresolved): its Codes' counts, tally, instructions, functions, bytes. */
interface Side {
  readonly counts: Float64Array;
  readonly tally: Tally;
  instructions: number;
  readonly members: number[];
  bytes: number;
}

interface Sides {
  readonly uncond: Side;
  readonly cond: Side;
  readonly unknown: Side;
  readonly rejectedBytes: number;
  readonly invalidBytes: number;
}

/** Every function's Codes onto its side; a split function's open part without a check, its guarded part after one. */
function tallySides(scanned: readonly Scanned[], reach: FileReach, bits: 32 | 64): Sides {
  const { splits, result } = reach.withFields;
  const { reached } = result;
  const side = (): Side => ({ counts: new Float64Array(CODES), tally: tallyOf(), instructions: 0, members: [], bytes: 0 });
  const uncond = side();
  const cond = side();
  const unknown = side();
  let rejectedBytes = 0;
  let invalidBytes = 0;
  scanned.forEach(({ scan, fn }, i) => {
    if (scan.rejected) rejectedBytes += fn.end - fn.start;
    invalidBytes += scan.invalidBytes;
    const into = reached[i] ? uncond : reach.placed[i] ? cond : unknown;
    if (!scan.rejected) into.bytes += fn.end - fn.start;
    const split = reached[i] ? splits.get(i) : undefined;
    const parts: [{ counts: Float64Array }, { codes: readonly number[]; counts: readonly number[] }][] = split ? [[uncond, split.open], [cond, split.guarded]] : [[into, scan]];
    for (const [side, part] of parts) {
      for (let k = 0; k < part.codes.length; k++) {
        const code = part.codes[k]!;
        side.counts[code] = side.counts[code]! + part.counts[k]!;
      }
    }
    if (split) cond.members.push(i);
    into.instructions += scan.instructions;
    into.members.push(i);
  });
  for (const s of [uncond, cond, unknown]) {
    const counts = new Map<number, number>();
    s.counts.forEach((n, code) => n && counts.set(code, n));
    tallyCodes(counts, bits, s.tally);
  }
  return { uncond, cond, unknown, rejectedBytes, invalidBytes };
}

/** Summaries with examples (and the chain that reaches each) of every side, what flag fields alone hide, the unresolved code; the record. */
function summariseFile(facts: {
  code: FileCode;
  notes: readonly string[];
  functions: readonly FunctionRange[];
  scanned: readonly Scanned[];
  graph: Graph;
  dispatch: DispatchFacts;
  guards: GuardFacts;
  reach: FileReach;
  sides: Sides;
  loaderLevel: LevelName | undefined;
}): Omit<FileAudit, 'milliseconds' | 'path'> {
  const { code, notes, functions, scanned, graph, dispatch, guards, reach, sides, loaderLevel } = facts;
  const { elf } = code;
  const { nodes, nodeAt } = graph;
  const { splits, reachFacts, result } = reach.withFields;
  const { reached, parent } = result;
  const { uncond, cond, unknown } = sides;
  const hasSymbols = functions.some((f) => f.source === 'symbol');
  const boundaries = code.go ? 'gopclntab' : hasSymbols ? (code.fdes.length ? 'symbols+eh_frame' : 'symbols') : code.fdes.length ? 'eh_frame' : 'none';
  // Examples carry their file offset too: what a SIGILL's trap line and forensics print.
  const offsetOf = (address: number): number | undefined => {
    const range = elf.code.find((c) => address >= c.addr && address < c.addr + c.size);
    return range ? address - range.addr + range.offset : undefined;
  };
  const via = (address: number): string | undefined => {
    const i = nodeAt(address);
    return i >= 0 && reached[i] ? reachChain(reachFacts, parent, i) : undefined;
  };
  // A split function holds examples of its open part for the code without a check, of its guarded part for the code after one.
  const openCodes = (i: number) => splits.get(i)?.open.codes ?? scanned[i]!.scan.codes;
  const guardedCodes = (i: number) => (reached[i] ? splits.get(i)?.guarded.codes : undefined) ?? scanned[i]!.scan.codes;
  const unconditional = summarise(uncond.tally, uncond.instructions, examplesFor(uncond.tally, uncond.members, scanned, elf.bits, offsetOf, via, openCodes));
  const pastFlagFields = reach.withFields !== reach.withoutFields ? pastFlagFieldsOf(reach.withoutFields, uncond.tally.level, { scanned, nodeAt, bits: elf.bits, offsetOf, flagFields: guards.flagFields }) : undefined;
  const conditionalSummary = summarise(cond.tally, cond.instructions, examplesFor(cond.tally, cond.members, scanned, elf.bits, offsetOf, undefined, guardedCodes));
  const unresolvedSummary = summarise(unknown.tally, unknown.instructions, examplesFor(unknown.tally, unknown.members, scanned, elf.bits, offsetOf));
  const all = mergeSummaries([uncond, cond, unknown], [unconditional, conditionalSummary, unresolvedSummary]);
  const named = (i: number) => functionLevel(nodes[i]!);
  const { fromData, entryPoints } = guards;
  const unresolved: UnresolvedCode = {
    ...unresolvedSummary,
    bytes: unknown.bytes,
    functions: unknown.members.filter((i) => !nodes[i]!.gap).length,
    fromData: unknown.members.filter((i) => fromData.has(i)).length,
    listed: ranked(unknown.members.filter((i) => nodes[i]!.level > 0).map((i) => ({ ...named(i), referredBy: fromData.has(i) ? ('data' as const) : dispatch.refs[i]!.length ? ('code' as const) : ('nothing' as const) }))),
  };
  const entryKinds = new Map<string, number>();
  for (const what of entryPoints.values()) {
    const kind = what.replace(/ .*$/, '');
    entryKinds.set(kind, (entryKinds.get(kind) ?? 0) + 1);
  }
  return {
    status: 'audited',
    bits: elf.bits,
    codeBytes: code.codeBytes,
    rejectedBytes: sides.rejectedBytes,
    invalidBytes: sides.invalidBytes,
    boundaries,
    functions: functions.filter((f) => f.source !== 'gap' && f.source !== 'code').length,
    ...(notes.length ? { notes: [...notes] } : {}),
    ...(loaderLevel ? { loaderLevel } : {}),
    cpuChecks: [...dispatch.checks.entries()].slice(0, 10).map(([i, how]) => `${nodeLabel(nodes[i]!)} ${how}`),
    all,
    unconditional: { ...unconditional, functions: ranked(uncond.members.filter((i) => nodes[i]!.level > 0).map((i) => functionLevel(nodes[i]!))) },
    ...(pastFlagFields ? { pastFlagFields } : {}),
    conditional: conditionalCode(conditionalSummary, reach.placed, nodes),
    unresolved,
    reach: {
      entryPoints: entryPoints.size,
      entryKinds: Object.fromEntries(entryKinds),
      reachedBytes: uncond.bytes,
      conditionalBytes: cond.bytes,
      unresolvedBytes: unknown.bytes,
    },
  };
}

/** What the entry points reach without a check when flag fields are not taken as checks, if it needs more than `level`. */
function pastFlagFieldsOf(
  plainPass: ReachPass,
  level: number,
  facts: { scanned: readonly Scanned[]; nodeAt: (address: number) => number; bits: 32 | 64; offsetOf: (address: number) => number | undefined; flagFields: ReadonlySet<number> },
): FileAudit['pastFlagFields'] {
  const { scanned, nodeAt, bits, offsetOf } = facts;
  const { result: plain, splits: plainSplits, reachFacts: plainFacts } = plainPass;
  const counts = new Float64Array(CODES);
  const members: number[] = [];
  let instructions = 0;
  const plainCodes = (i: number) => plainSplits.get(i)?.open.codes ?? scanned[i]!.scan.codes;
  scanned.forEach(({ scan }, i) => {
    if (!plain.reached[i]) return;
    const part = plainSplits.get(i)?.open ?? scan;
    for (let k = 0; k < part.codes.length; k++) counts[part.codes[k]!] = counts[part.codes[k]!]! + part.counts[k]!;
    members.push(i);
    instructions += scan.instructions;
  });
  const tally = tallyOf();
  const byCode = new Map<number, number>();
  counts.forEach((n, code) => n && byCode.set(code, n));
  tallyCodes(byCode, bits, tally);
  if (tally.level <= level) return undefined;
  const plainVia = (address: number): string | undefined => {
    const i = nodeAt(address);
    return i >= 0 && plain.reached[i] ? reachChain(plainFacts, plain.parent, i) : undefined;
  };
  const summary = summarise(tally, instructions, examplesFor(tally, members, scanned, bits, offsetOf, plainVia, plainCodes));
  return { ...summary, fields: [...facts.flagFields].sort((a, b) => a - b).map(hex) };
}

/**
 * The functions whose references the reachability may treat as checked: those that check
 * the CPU themselves, IFUNC resolvers, and callers of a getter (a check of at most 256
 * bytes that calls nothing but a CPU query or a small init: has_avx2()). A caller of a function that checks the CPU and
 * goes on to other work (Go's rt0_go, a main that prints the CPU's features) is not one.
 */
function checkingFunctions(
  nodes: readonly Node[],
  checks: ReadonlyMap<number, string>,
  resolvers: ReadonlyMap<number, string>,
  referrers: readonly (readonly number[])[],
  imports: ReadonlyMap<number, readonly string[]>,
): Set<number> {
  const out = new Set<number>([...checks.keys(), ...resolvers.keys()]);
  nodes.forEach((n, i) => n.resolverOf.length && out.add(i));
  for (const k of gettersOf(nodes, checks, imports)) for (const r of referrers[k]!) out.add(r);
  return out;
}

/** Getters: checks of at most 256 bytes that call nothing but a CPU query or a small init (BoringSSL's OPENSSL_get_ia32cap → CRYPTO_library_init). */
function gettersOf(nodes: readonly Node[], checks: ReadonlyMap<number, string>, imports: ReadonlyMap<number, readonly string[]>): Set<number> {
  const small = (i: number) => nodes[i]!.end - nodes[i]!.start <= GETTER;
  const getter = (k: number) => small(k) && nodes[k]!.calls.every(small) && (imports.get(k) ?? []).every((name) => CPU_QUERIES.has(name));
  return new Set([...checks.keys()].filter(getter));
}

/** What is not reached: conditional when the name rules or the dispatch rule say so, or when a checked edge leads to it; undefined otherwise (unresolved, or reached). */
function afterCheck(nodes: readonly Node[], reached: Uint8Array, checked: ReadonlyMap<number, ReadonlySet<number>>, conditions: readonly (Condition | undefined)[], dispatchers: ReadonlyMap<number, string>): (Condition | undefined)[] {
  const out = conditions.map((c, i) => (reached[i] ? undefined : c));
  const queue: number[] = [];
  for (const [from, targets] of checked) {
    for (const t of targets) {
      if (reached[t] || out[t]) continue;
      out[t] = { rule: 'dispatch', detail: `reached from ${nodeLabel(nodes[from]!)}, which ${dispatchers.get(from) ?? 'checks the CPU'}` };
      queue.push(t);
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const from = queue[q]!;
    for (const list of [nodes[from]!.calls, nodes[from]!.loads]) {
      for (const t of list) {
        if (reached[t] || out[t]) continue;
        out[t] = { rule: 'only-from-conditional', detail: `referred to by conditional code (${nodeLabel(nodes[from]!)})` };
        queue.push(t);
      }
    }
  }
  return out;
}

/** The entry points: the ELF entry, main, the init and fini arrays, exported functions, IFUNC resolvers; for a relocatable object, every global function. */
function entryPointsOf(elf: ElfFile, nodes: readonly Node[], resolvers: ReadonlyMap<number, string>, nodeAt: (a: number) => number): Map<number, string> {
  const roots = new Map<number, string>();
  const add = (i: number, what: string) => {
    if (i >= 0 && !roots.has(i)) roots.set(i, what);
  };
  if (elf.entry) add(nodeAt(elf.entry), 'entry point');
  for (const s of elf.symbols) {
    if (s.shndx === 0 || s.type !== STT_FUNC) continue;
    if (s.name === 'main') add(nodeAt(s.value), 'main');
    else if (elf.type === ET_REL && s.bind !== 0) add(nodeAt(s.value), `global ${s.name}`);
  }
  for (const t of elf.initFini) add(nodeAt(t), 'init/fini array');
  nodes.forEach((n, i) => {
    if (n.exported) add(i, `export ${nodeLabel(n)}`);
    if (n.resolverOf.length || resolvers.has(i)) add(i, `IFUNC resolver ${nodeLabel(n)}`);
  });
  return roots;
}

const tallyOf = (): Tally => ({ features: new Map(), discounted: new Map(), level: -1 });

/** A PLT stub's target name, from the `jmp [rip+slot]` in it and the slot's relocation; undefined outside the PLT. */
function pltResolver(elf: ElfFile): (addr: number) => string | undefined {
  const sections = elf.sections.filter((s) => /^\.(plt|plt\.sec|plt\.got|iplt)$/.test(s.name) && s.size > 0);
  if (!sections.length) return () => undefined;
  const jumps = sections.flatMap((s) => pltJumps(readBytes(elf.path, s.offset, s.size), s.addr, elf.bits)).sort((a, b) => a[0] - b[0]);
  const low = Math.min(...sections.map((s) => s.addr));
  const high = Math.max(...sections.map((s) => s.addr + s.size));
  const inPlt = (a: number) => a >= low && a < high && sections.some((s) => a >= s.addr && a < s.addr + s.size);
  return (addr) => {
    if (!inPlt(addr)) return undefined;
    // The stub's jmp is at its start, or just after an endbr64 (and a bnd prefix).
    let lo = 0;
    let hi = jumps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (jumps[mid]![0] < addr) lo = mid + 1;
      else hi = mid;
    }
    const jump = jumps[lo];
    return jump && jump[0] - addr <= 8 ? (elf.gotSymbols.get(jump[1]) ?? '') || undefined : undefined;
  };
}

/** Pass 2, on demand and once per function: its RIP-relative memory accesses. */
class MemoryMemo {
  readonly #memo = new Map<number, MemoryAccesses>();
  constructor(
    private readonly scanned: readonly Scanned[],
    private readonly bits: 32 | 64,
  ) {}
  of(i: number): MemoryAccesses {
    let a = this.#memo.get(i);
    if (!a) {
      const { bytes, fn } = this.scanned[i]!;
      this.#memo.set(i, (a = memoryAccesses(bytes, fn.start, this.bits)));
    }
    return a;
  }
}

/**
 * The functions that check the CPU, and how: cpuid or xgetbv inside, a call to a CPU
 * query, a read of a CPU-feature word (known by name, or stored — or its address passed
 * on — by a function that runs cpuid or by its small callers). Reads are looked for
 * only in functions that could dispatch (they refer to a function needing more than
 * themselves) and in their small callees (getters such as sodium_runtime_has_avx2).
 */
function findCpuChecks(
  elf: ElfFile,
  nodes: readonly Node[],
  scanned: readonly Scanned[],
  imports: ReadonlyMap<number, string[]>,
  memory: MemoryMemo,
  nodeAt: (a: number) => number,
  reach: readonly number[],
): { checks: Map<number, string>; setups: Set<number>; words: CpuWord[] } {
  const checks = new Map<number, string>();
  scanned.forEach(({ scan }, i) => {
    if (scan.cpuid) checks.set(i, 'runs cpuid');
    else if (scan.xgetbv) checks.set(i, 'runs xgetbv');
  });
  for (const [i, names] of imports) {
    const query = names.find((n) => CPU_QUERIES.has(n));
    if (query && !checks.has(i)) checks.set(i, `calls ${query}`);
  }

  // CPU-feature words: named ones, the GOT slots of imported ones, and what checks store.
  const words: CpuWord[] = [];
  for (const s of elf.symbols) {
    if (s.shndx !== 0 && s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC && s.name && CPU_WORD.test(s.name)) words.push({ start: s.value, end: s.value + Math.max(s.size, 8), name: s.name });
  }
  for (const [slot, name] of elf.gotSymbols) if (CPU_WORD.test(name)) words.push({ start: slot, end: slot + 8, name: `${name} (through the GOT)` });
  const setups = new Set<number>();
  nodes.forEach((n, i) => {
    if (n.end - n.start <= SMALL_CALLER && n.calls.some((c) => checks.get(c)?.startsWith('runs'))) setups.add(i);
  });
  // Go keeps its flags in internal/cpu.X86 (doinit) and copies them to runtime.x86HasAVX2 and the like (cpuinit).
  nodes.forEach((n, i) => n.names.some((name) => GO_CPU_SETUP.test(name)) && setups.add(i));
  const storers = new Set([...checks.keys(), ...setups]);
  for (const s of storers) {
    const { writes, addresses } = memory.of(s);
    for (const w of [...writes, ...addresses]) {
      if (nodeAt(w) < 0) words.push({ start: w - WORD_WINDOW, end: w + WORD_WINDOW, name: `a word ${nodeLabel(nodes[s]!)} stores` });
    }
  }
  if (!words.length) return { checks, setups, words };
  const candidates = new Set(dispatchCandidates(nodes, reach));
  for (const c of [...candidates]) for (const callee of nodes[c]!.calls) if (nodes[callee]!.end - nodes[callee]!.start <= 256) candidates.add(callee);
  for (const i of candidates) {
    if (checks.has(i)) continue;
    const { reads, addresses } = memory.of(i);
    const hit = [...reads, ...addresses].map((a) => words.find((w) => a >= w.start && a < w.end)).find((w) => w);
    if (hit) checks.set(i, `reads ${hit.name}`);
  }
  return { checks, setups, words };
}

interface CpuWord {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

/** Whether an address lies in one of the CPU-feature words (binary search over them, sorted by start). */
function cpuWordTest(words: readonly CpuWord[]): (address: number) => boolean {
  const sorted = [...words].sort((a, b) => a.start - b.start);
  const reach = Math.max(0, ...sorted.map((w) => w.end - w.start));
  return (address) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]!.start <= address) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1; i >= 0 && sorted[i]!.start > address - reach; i--) if (address < sorted[i]!.end) return true;
    return false;
  };
}

/**
 * Makes each pointer table a dispatcher reads part of that dispatcher's loads; returns the table slots so taken.
 * A table runs from the address loaded for at most 64 words, and ends where the next address
 * any code loads begins: that is another table or structure (libgcrypt's SHA-3 digest specs lie
 * just before the Keccak ops tables keccak_init picks from by its CPU check).
 */
function adoptDispatchTables(elf: ElfFile, nodes: Node[], dispatchers: ReadonlyMap<number, string>, memory: MemoryMemo, nodeAt: (a: number) => number, scanned: readonly Scanned[]): { owned: Set<number>; tables: Map<number, number[]> } {
  const owned = new Set<number>();
  /** Per table address: the functions its slots point at. */
  const tables = new Map<number, number[]>();
  if (!elf.dataRefs.length || !dispatchers.size) return { owned, tables };
  const taken = [...new Set(scanned.flatMap(({ scan }) => scan.addressLoads.filter((a) => nodeAt(a) < 0)))].sort((a, b) => a - b);
  const nextTaken = (a: number): number => {
    let lo = 0;
    let hi = taken.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (taken[mid]! <= a) lo = mid + 1;
      else hi = mid;
    }
    return lo < taken.length ? taken[lo]! : Infinity;
  };
  const word = elf.bits === 64 ? 8 : 4;
  const refs = [...elf.dataRefs].sort((a, b) => a.at - b.at);
  const firstAtOrAfter = (a: number): number => {
    let lo = 0;
    let hi = refs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (refs[mid]!.at < a) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const got = elf.sections.filter((s) => s.name.startsWith('.got'));
  for (const d of dispatchers.keys()) {
    // A table is indexed from its address, which RIP-relative code can only take with LEA.
    for (const a of memory.of(d).addresses) {
      if (nodeAt(a) >= 0 || got.some((s) => a >= s.addr && a < s.addr + s.size)) continue;
      // The table: the pointer slots in the 64 words from the address loaded (its first
      // entries may be null, and so carry no relocation).
      const end = Math.min(a + 64 * word, nextTaken(a));
      for (let i = firstAtOrAfter(a); i < refs.length && refs[i]!.at < end; i++) {
        const target = nodeAt(refs[i]!.target);
        if (target < 0) continue;
        owned.add(refs[i]!.at);
        const entries = tables.get(a) ?? [];
        if (!entries.includes(target)) tables.set(a, [...entries, target]);
        if (target !== d && !nodes[d]!.loads.includes(target)) nodes[d]!.loads.push(target);
      }
    }
  }
  return { owned, tables };
}

/** Up to three example instructions per feature, from the first functions (by address) that have it. */
function examplesFor(
  tally: Tally,
  members: readonly number[],
  scanned: readonly Scanned[],
  bits: 32 | 64,
  offsetOf: (address: number) => number | undefined,
  via?: (address: number) => string | undefined,
  codesOf: (i: number) => readonly number[] = (i) => scanned[i]!.scan.codes,
): Map<string, ExampleInstruction[]> {
  // The first three functions holding each Code: the examples of every feature are among them.
  const holders = new Map<number, number[]>();
  for (const i of members) {
    for (const code of codesOf(i)) {
      const list = holders.get(code);
      if (!list) holders.set(code, [i]);
      else if (list.length < EXAMPLES_PER_FEATURE) list.push(i);
    }
  }
  const decoded = new Map<number, Example[]>();
  const examplesOf = (i: number): Example[] => {
    let found = decoded.get(i);
    if (!found) {
      const { bytes, fn } = scanned[i]!;
      decoded.set(i, (found = examplesIn(bytes, fn.start, bits, new Set(codesOf(i)), EXAMPLES_PER_FEATURE)));
    }
    return found;
  };
  const out = new Map<string, ExampleInstruction[]>();
  for (const { feature, codes } of tally.features.values()) {
    const functions = [...new Set([...codes].flatMap((c) => holders.get(c) ?? []))].sort((a, b) => a - b);
    const list: Example[] = [];
    for (const i of functions) {
      for (const e of examplesOf(i)) if (codes.has(e.code)) list.push(e);
      if (list.length >= EXAMPLES_PER_FEATURE) break;
    }
    out.set(
      feature,
      list
        .sort((a, b) => a.address - b.address)
        .slice(0, EXAMPLES_PER_FEATURE)
        .map((e) => {
          const offset = offsetOf(e.address);
          const chain = via?.(e.address);
          return { address: hex(e.address), ...(offset !== undefined ? { offset: hex(offset) } : {}), text: e.text, ...(chain ? { via: chain } : {}) };
        }),
    );
  }
  return out;
}

/** The whole file's summary: both sides' tallies, and the earliest examples of either. */
function mergeSummaries(sides: readonly { tally: Tally; instructions: number }[], summaries: readonly IsaSummary[]): IsaSummary {
  const tally = tallyOf();
  for (const side of sides) {
    for (const [feature, t] of side.tally.features) {
      const into = tally.features.get(feature);
      if (into) {
        into.count += t.count;
        for (const c of t.codes) into.codes.add(c);
      } else tally.features.set(feature, { ...t, codes: new Set(t.codes) });
    }
    for (const [what, n] of side.tally.discounted) tally.discounted.set(what, (tally.discounted.get(what) ?? 0) + n);
    tally.level = Math.max(tally.level, side.tally.level);
  }
  const examples = new Map<string, ExampleInstruction[]>();
  for (const s of summaries) {
    for (const f of s.features) examples.set(f.feature, [...(examples.get(f.feature) ?? []), ...f.examples]);
  }
  for (const [f, list] of examples) examples.set(f, list.sort((a, b) => Number(a.address) - Number(b.address)).slice(0, EXAMPLES_PER_FEATURE));
  return summarise(tally, sides.reduce((n, s) => n + s.instructions, 0), examples);
}

const functionLevel = (n: DispatchNode): FunctionLevel => ({ name: nodeLabel(n), address: hex(n.start), level: n.level < 0 ? null : LEVEL_NAMES[n.level]! });

/** Highest level first, then by address; at most MAX_LISTED. */
function ranked<F extends FunctionLevel>(list: F[]): F[] {
  const rank = (f: FunctionLevel) => (f.level ? LEVEL_NAMES.indexOf(f.level) : -1);
  return list.sort((a, b) => rank(b) - rank(a) || Number(a.address) - Number(b.address)).slice(0, MAX_LISTED);
}

function conditionalCode(summary: IsaSummary, conditions: readonly (Condition | undefined)[], nodes: readonly DispatchNode[]): ConditionalCode {
  const byRule: ConditionalCode['byRule'] = {};
  const listed: ConditionalFunction[] = [];
  conditions.forEach((c, i) => {
    if (!c) return;
    byRule[c.rule] = (byRule[c.rule] ?? 0) + 1;
    listed.push({ ...functionLevel(nodes[i]!), rule: c.rule, detail: c.detail });
  });
  return { ...summary, byRule, functions: ranked(listed) };
}

/** How far up the callers a flag argument is followed. */
const ARGUMENT_DEPTH = 6;
const NO_SLOTS: ReadonlySet<number> = new Set();

/**
 * The flag arguments of each function: the argument slots every call to it fills with a
 * flag (a CPU-feature value, a flag field in the pass that counts them, or a flag argument
 * of the caller's own), zero, or — from a caller itself needing more than the baseline (zstd's
 * `HUF_readStats_body_bmi2` passing 1) — another constant. A function entered otherwise
 * (`closed`: an entry point, pointed at from data or exported) or whose address code takes
 * has none. Memoised; followed up the callers ARGUMENT_DEPTH deep.
 */
function flagArgumentFinder(facts: {
  readonly nodes: readonly Node[];
  readonly scanned: readonly Scanned[];
  readonly refs: readonly (readonly number[])[];
  readonly nodeAt: (address: number) => number;
  readonly bits: 32 | 64;
  readonly closed: (i: number) => boolean;
  readonly sources: Omit<ArgumentSources, 'incoming'>;
}): (i: number) => ReadonlySet<number> {
  const { nodes, scanned, refs, nodeAt, bits, closed, sources } = facts;
  const memo = new Map<number, ReadonlySet<number>>();
  const passed = new Map<number, CallArguments>();
  const argumentsOf = (c: number, incoming: ReadonlySet<number>): CallArguments => {
    let found = passed.get(c);
    if (!found) passed.set(c, (found = callArguments(scanned[c]!.bytes, scanned[c]!.fn.start, bits, { ...sources, incoming })));
    return found;
  };
  const find = (i: number, depth: number): ReadonlySet<number> => {
    const known = memo.get(i);
    if (known) return known;
    memo.set(i, NO_SLOTS); // a cycle passes nothing known
    const callers = refs[i]!;
    if (bits !== 64 || closed(i) || !callers.length || callers.some((c) => !nodes[c]!.calls.includes(i) || nodes[c]!.loads.includes(i))) return NO_SLOTS;
    let accepted: Set<number> | undefined;
    for (const c of callers) {
      const incoming = depth < ARGUMENT_DEPTH ? find(c, depth + 1) : NO_SLOTS;
      let calls = 0;
      const covered = new Map<number, number>();
      for (const [target, entry] of argumentsOf(c, incoming)) {
        if (nodeAt(target) !== i) continue;
        calls += entry.calls;
        for (const [slot, kinds] of entry.slots) {
          const n = (kinds.get('flag') ?? 0) + (kinds.get('zero') ?? 0) + (nodes[c]!.level >= 1 ? (kinds.get('constant') ?? 0) : 0);
          covered.set(slot, (covered.get(slot) ?? 0) + n);
        }
      }
      // A caller that reaches it otherwise (a conditional tail jump) passes nothing known.
      const ok = new Set(calls ? [...covered].filter(([, n]) => n === calls).map(([slot]) => slot) : []);
      accepted = accepted ? new Set([...accepted].filter((slot) => ok.has(slot))) : ok;
      if (!accepted.size) return NO_SLOTS;
    }
    const slots = accepted ?? NO_SLOTS;
    memo.set(i, slots);
    return slots;
  };
  return (i) => find(i, 0);
}
