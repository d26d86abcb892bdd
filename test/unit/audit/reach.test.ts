import test from 'ava';
import { referrersOf, type DispatchNode } from '../../../harness/audit/dispatch.js';
import { codeName, guardSplit } from '../../../harness/audit/isa.js';
import { checkedEdges, reachChain, reachWithoutCheck } from '../../../harness/audit/reach.js';

// Level -1 = general-purpose only, 0 = v1, 1 = v2, 2 = v3, 3 = v4.
const node = (start: number, names: string[], level: number, calls: number[] = [], size = 0x10): DispatchNode => ({ start, end: start + size, names, gap: false, exported: false, resolverOf: [], level, calls, loads: [] });

const reach = (nodes: DispatchNode[], dispatchers: number[], roots: [number, string][] = [[0, 'main']]) =>
  reachWithoutCheck({ nodes, roots: new Map(roots), dispatchers: new Set(dispatchers), conditions: nodes.map(() => undefined), referrers: referrersOf(nodes) });

test('reached without a check: what the entry points call, however deep; code nothing reaches is not reached', (t) => {
  const nodes = [node(0x100, ['main'], -1, [1]), node(0x200, ['work'], -1, [2]), node(0x300, ['kernel'], 2), node(0x400, ['dead'], 3)];
  const r = reach(nodes, []);
  t.deepEqual([...r.reached], [1, 1, 1, 0]);
  t.is(reachChain({ nodes, roots: new Map([[0, 'main']]) }, r.parent, 2), 'main: main → work → kernel');
});

test('a function that checks the CPU does not reach the variant needing more than itself; a check elsewhere hides nothing', (t) => {
  // main → dispatch (checks) → add_avx2 (v3) / add_sse2 (v1); main → work (v3) directly.
  const nodes = [node(0x100, ['main'], -1, [1, 4]), node(0x200, ['dispatch'], -1, [2, 3]), node(0x300, ['add_avx2'], 2), node(0x400, ['add_sse2'], 0), node(0x500, ['work'], 2)];
  const r = reach(nodes, [1]);
  t.deepEqual([...r.reached], [1, 1, 0, 1, 1]);
  t.deepEqual([...(r.checked.get(1) ?? [])], [2]);
  // Break it on purpose: without the check, the variant is reached.
  t.deepEqual([...reach(nodes, []).reached], [1, 1, 1, 1, 1]);
  // A dispatcher compiled for v3 itself dispatches nothing at v3 (a -march=x86-64-v3 build).
  const wholesale = nodes.map((n) => ({ ...n, level: Math.max(n.level, 2) }));
  t.deepEqual([...reach(wholesale, [1]).reached], [1, 1, 1, 1, 1]);
});

test('glue: small code only dispatchers refer to counts by what it leads to; big or shared code does not', (t) => {
  // dispatch → glue (v1, small) → kernel (v3).
  const small = [node(0x100, ['main'], -1, [1]), node(0x200, ['dispatch'], -1, [2]), node(0x300, ['glue'], 0, [3]), node(0x400, ['kernel'], 2)];
  t.deepEqual([...reach(small, [1]).reached], [1, 1, 0, 0]);
  // The same glue also called by main: reached, and the kernel with it.
  const shared = [node(0x100, ['main'], -1, [1, 2]), ...small.slice(1)];
  t.deepEqual([...reach(shared, [1]).reached], [1, 1, 1, 1]);
  // A big function behind a dispatcher (Go's rt0_go → schedinit) is not glue: reached.
  const big = [small[0]!, small[1]!, node(0x300, ['schedinit'], 0, [3], 0x2000), small[3]!];
  t.deepEqual([...reach(big, [1]).reached], [1, 1, 1, 1]);
  t.deepEqual([...(checkedEdges(big, new Set([1]), referrersOf(big)).get(1) ?? [])], []);
});

// cmp byte [rip+0xff9], 1 (→ 0x2000); je +5; paddd xmm0,xmm1; ret; vpaddd ymm0,ymm1,ymm1; ret
const GUARDED = Uint8Array.from([0x80, 0x3d, 0xf9, 0x0f, 0x00, 0x00, 0x01, 0x74, 0x05, 0x66, 0x0f, 0xfe, 0xc1, 0xc3, 0xc5, 0xf5, 0xfe, 0xc1, 0xc3]);

test('a jcc on a CPU-feature word inside a function: the side leading to more is guarded', (t) => {
  const split = guardSplit(GUARDED, 0x1000, 64, (a) => a === 0x2000);
  t.truthy(split);
  t.is(split!.guards, 1);
  t.is(split!.open.level, 0);
  t.deepEqual(split!.open.codes.map(codeName), ['Paddd_xmm_xmmm128']);
  t.is(split!.guarded.level, 2);
  t.deepEqual(split!.guarded.codes.map(codeName), ['VEX_Vpaddd_ymm_ymm_ymmm256']);
  // Break it on purpose: the same test of a word that is no CPU-feature word guards nothing.
  t.is(guardSplit(GUARDED, 0x1000, 64, () => false), undefined);
});

test('a flag loaded into a register and tested later is a guard too (Go hoists it out of loops)', (t) => {
  // movzx edx, byte [rip+0xff9] (→ 0x2000); mov eax, 1; nine nops (beyond the window of the read); test edx, edx; je +5; paddd; ret; vpaddd; ret
  const nops = Array<number>(9).fill(0x90);
  const bytes = Uint8Array.from([0x0f, 0xb6, 0x15, 0xf9, 0x0f, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, ...nops, 0x85, 0xd2, 0x74, 0x05, 0x66, 0x0f, 0xfe, 0xc1, 0xc3, 0xc5, 0xf5, 0xfe, 0xc1, 0xc3]);
  const split = guardSplit(bytes, 0x1000, 64, (a) => a === 0x2000);
  t.is(split?.guarded.level, 2);
  t.is(split?.open.level, 0);
  // Break it on purpose: the register overwritten (mov edx, 1) before its test: no guard.
  const clobbered = Uint8Array.from([0x0f, 0xb6, 0x15, 0xf9, 0x0f, 0x00, 0x00, 0xba, 0x01, 0x00, 0x00, 0x00, ...nops, 0x85, 0xd2, 0x74, 0x05, 0x66, 0x0f, 0xfe, 0xc1, 0xc3, 0xc5, 0xf5, 0xfe, 0xc1, 0xc3]);
  t.is(guardSplit(clobbered, 0x1000, 64, (a) => a === 0x2000)?.guards ?? 0, 0);
});

test('twins: a function referring to two copies of the same code, one needing more, takes that one only after a check', (t) => {
  // decode → decode_bmi2 (v3, 0x400 bytes) and decode_default (v1, 0x3c0 bytes): zstd's DYNAMIC_BMI2.
  const nodes = [node(0x100, ['main'], -1, [1]), node(0x200, ['decode'], -1, [2, 3]), node(0x1000, ['decode_bmi2'], 2, [], 0x400), node(0x2000, ['decode_default'], 0, [], 0x3c0)];
  t.deepEqual([...reach(nodes, []).reached], [1, 1, 0, 1]);
  // Break it on purpose: sizes far apart are no copies of each other; the v3 function is reached.
  const apart = [...nodes.slice(0, 3), node(0x2000, ['other'], 0, [], 0x100)];
  t.deepEqual([...reach(apart, []).reached], [1, 1, 1, 1]);
});
