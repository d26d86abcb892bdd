import test from 'ava';
import { classify, dispatchCandidates, dispatchersOf, reachLevels, variantToken, type DispatchNode } from '../../../harness/audit/dispatch.js';

// A small call graph: level -1 = general-purpose only, 0 = v1, 2 = v3, 3 = v4.
const node = (start: number, names: string[], level: number, calls: number[] = [], loads: number[] = [], extra: Partial<DispatchNode> = {}): DispatchNode => ({
  start,
  end: start + 0x10,
  names,
  gap: false,
  exported: false,
  resolverOf: [],
  level,
  calls,
  loads,
  ...extra,
});

const run = (nodes: DispatchNode[], checks = new Map<number, string>(), roots = new Set<number>(), resolvers = new Map<number, string>()) =>
  classify({ nodes, roots, resolvers, dispatchers: dispatchersOf(nodes, checks, resolvers) });

test('variant names: ISA tokens, target_clones suffixes and the vector ABI; CPU-check helpers are not variants', (t) => {
  t.is(variantToken('__memmove_avx_unaligned_erms'), 'avx');
  t.is(variantToken('add.avx2'), 'avx2');
  t.is(variantToken('add.avx2.0'), 'avx2');
  t.is(variantToken('ZSTD_decompressSequences_bmi2'), 'bmi2');
  t.is(variantToken('__strchr_evex512'), 'evex512');
  t.is(variantToken('_nettle_sha1_compress_sha_ni'), 'sha_ni');
  t.is(variantToken('foo.arch_x86_64_v3'), 'arch_x86_64_v3');
  t.is(variantToken('_ZGVdN4v_sin'), 'vector ABI _ZGVd');
  t.is(variantToken('avxdata_lookup'), undefined);
  t.is(variantToken('has_avx2'), undefined);
  t.is(variantToken('cpu_supports_avx2'), undefined);
});

test('(b) what an IFUNC resolver loads is conditional; the resolver itself is not', (t) => {
  const nodes = [node(0x100, ['main'], 0, [3]), node(0x200, ['add.default'], 0), node(0x300, ['add.avx2'], 2), node(0x400, ['add.resolver'], -1, [], [1, 2], { resolverOf: ['add'] })];
  const c = run(nodes);
  t.is(c[0], undefined);
  t.is(c[1]?.rule, 'ifunc');
  t.is(c[2]?.rule, 'ifunc');
  t.regex(c[2]!.detail, /IFUNC add/);
  t.is(c[3], undefined);
});

test('(b) a stripped resolver found by its IRELATIVE relocation works the same', (t) => {
  const nodes = [node(0x100, [], 0), node(0x200, [], 2), node(0x300, [], -1, [], [0, 1])];
  const c = run(nodes, new Map(), new Set(), new Map([[2, 'IRELATIVE resolver at 0x300']]));
  t.deepEqual(c.map((x) => x?.rule), ['ifunc', 'ifunc', undefined]);
});

test('(c) code reached only from a CPU-checking function, needing more than it, is conditional', (t) => {
  // 0 main → 1 add (reads __cpu_model) → 2 add_fast (v3) / 3 add_slow (v1); 2 calls helper 4 (v3).
  const nodes = [node(0x100, ['main'], 0, [1]), node(0x200, ['add'], 0, [2, 3]), node(0x300, [], 2, [4]), node(0x400, [], 0), node(0x500, [], 2)];
  const c = run(nodes, new Map([[1, 'reads __cpu_model']]));
  t.is(c[2]?.rule, 'dispatch');
  t.regex(c[2]!.detail, /reached from add, which reads __cpu_model/);
  t.is(c[3], undefined, 'the baseline fallback runs without a check');
  t.is(c[4]?.rule, 'only-from-conditional');
  t.is(c[1], undefined);
});

test('(c) code also called without a check stays unconditional; so do exported functions and roots', (t) => {
  const nodes = [
    node(0x100, ['main'], 0, [2]),
    node(0x200, ['dispatcher'], 0, [2, 3, 4]),
    node(0x300, [], 2),
    node(0x400, ['api'], 2, [], [], { exported: true }),
    node(0x500, [], 2),
  ];
  const c = run(nodes, new Map([[1, 'runs cpuid']]), new Set([4]));
  t.deepEqual(c, [undefined, undefined, undefined, undefined, undefined]);
});

test('(c) a dispatcher that needs as much as its callee dispatches nothing (whole-file -mavx2 stays unconditional)', (t) => {
  const nodes = [node(0x100, ['main'], 2, [1]), node(0x200, [], 2)];
  t.deepEqual(run(nodes, new Map([[0, 'runs cpuid']])), [undefined, undefined]);
});

test('(c) glue that leads to higher-level code counts by what it reaches', (t) => {
  // dispatcher 0 → glue 1 (v1) → kernel 2 (v4)
  const nodes = [node(0x100, ['dispatch'], 0, [1]), node(0x200, ['glue'], 0, [2]), node(0x300, [], 3)];
  t.deepEqual(reachLevels(nodes), [3, 3, 3]);
  const c = run(nodes, new Map([[0, 'reads OPENSSL_ia32cap_P']]));
  t.is(c[1]?.rule, 'dispatch');
  t.is(c[2]?.rule, 'only-from-conditional');
  t.deepEqual(dispatchCandidates(nodes), [0, 1]);
});

test('(c) callers of a CPU-checking function dispatch; mutual recursion only among conditional code stays conditional', (t) => {
  // 0 init (runs cpuid); 1 pick calls init, then 2; 2 ↔ 3 (both v3)
  const nodes = [node(0x100, ['init'], 0), node(0x200, ['pick'], 0, [0, 2]), node(0x300, [], 2, [3]), node(0x400, [], 2, [2])];
  const c = run(nodes, new Map([[0, 'runs cpuid']]));
  t.is(c[2]?.rule, 'dispatch');
  t.is(c[3]?.rule, 'only-from-conditional');
});
