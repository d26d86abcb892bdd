import test from 'ava';
import { referrersOf, type DispatchNode } from '../../../harness/audit/dispatch.js';
import { codeName, couldGuard, flagFieldStores, guardSources, guardSplit } from '../../../harness/audit/isa.js';
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

test('what a getter returns, tested, is a guard (OpenSSL: call rsaz_avx2_eligible; test eax, eax)', (t) => {
  // call 0x3000; test eax, eax; je +5; vpaddd ymm0, ymm1, ymm1; ret; paddd xmm0, xmm1; ret
  const bytes = Uint8Array.from([0xe8, 0xfb, 0x1f, 0x00, 0x00, 0x85, 0xc0, 0x74, 0x05, 0xc5, 0xf5, 0xfe, 0xc1, 0xc3, 0x66, 0x0f, 0xfe, 0xc1, 0xc3]);
  const split = guardSplit(bytes, 0x1000, 64, () => false, { isGetter: (a) => a === 0x3000 });
  t.is(split?.guards, 1);
  t.is(split?.guarded.level, 2);
  t.is(split?.open.level, 0);
  // Break it on purpose: the callee is no getter; its result is no flag.
  t.is(guardSplit(bytes, 0x1000, 64, () => false, { isGetter: () => false }), undefined);
});

test('a test of a flag field guards, and a side counts with what it jumps to outside the function', (t) => {
  // test byte [rdi+0xf0], 1; je +5; jmp 0x4000 (the AVX2 transform); jmp 0x5000 (the generic one): libgcrypt's blake2b_transform.
  const bytes = Uint8Array.from([0xf6, 0x87, 0xf0, 0x00, 0x00, 0x00, 0x01, 0x74, 0x05, 0xe9, 0xf2, 0x2f, 0x00, 0x00, 0xe9, 0xed, 0x3f, 0x00, 0x00]);
  const targetLevel = (a: number) => (a === 0x4000 ? 2 : 0);
  const split = guardSplit(bytes, 0x1000, 64, () => false, { flagFields: new Set([0xf0]), targetLevel });
  t.is(split?.guards, 1);
  t.deepEqual(split?.guardedTargets, [0x4000]);
  // Break it on purpose: another offset is no flag field; without the targets' levels neither side leads to more.
  t.is(guardSplit(bytes, 0x1000, 64, () => false, { flagFields: new Set([0xe8]), targetLevel }), undefined);
  t.is(guardSplit(bytes, 0x1000, 64, () => false, { flagFields: new Set([0xf0]) })?.guards ?? 0, 0);
});

test('flag fields: a structure field stored with what a getter returned or cpuid found, not the stack nor a constant', (t) => {
  // push rbx; mov rbx, rdi; call 0x3000; shr eax, 13; and eax, 1; movzx edx, byte [rbx+0xf0]; and edx, 0xfe; or edx, eax;
  // mov [rbx+0xf0], dl; mov qword [rbx+0xe8], 0x40; mov [rsp-8], eax; pop rbx; ret — libgcrypt's blake2b_init_ctx.
  const writer = Uint8Array.from([
    0x53, 0x48, 0x89, 0xfb, 0xe8, 0xf7, 0x1f, 0x00, 0x00, 0xc1, 0xe8, 0x0d, 0x83, 0xe0, 0x01, 0x0f, 0xb6, 0x93, 0xf0, 0x00, 0x00, 0x00, 0x81, 0xe2, 0xfe, 0x00, 0x00, 0x00, 0x09, 0xc2, 0x88, 0x93, 0xf0,
    0x00, 0x00, 0x00, 0x48, 0xc7, 0x83, 0xe8, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x89, 0x44, 0x24, 0xf8, 0x5b, 0xc3,
  ]);
  t.deepEqual(flagFieldStores(writer, 0x1000, 64, () => false, (a) => a === 0x3000), [0xf0]);
  // Break it on purpose: the callee is no getter: nothing it returns is a feature.
  t.deepEqual(flagFieldStores(writer, 0x1000, 64, () => false, () => false), []);
  // push rbx; mov eax, 7; xor ecx, ecx; cpuid; shr ebx, 8; and ebx, 1; mov [r12+0x75e4], ebx; xor ebx, ebx; mov [r12+0x10], ebx; pop rbx; ret — zstd's dctx->bmi2.
  const inline = Uint8Array.from([0x53, 0xb8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0xc1, 0xeb, 0x08, 0x83, 0xe3, 0x01, 0x41, 0x89, 0x9c, 0x24, 0xe4, 0x75, 0x00, 0x00, 0x31, 0xdb, 0x41, 0x89, 0x5c, 0x24, 0x10, 0x5b, 0xc3]);
  t.deepEqual(flagFieldStores(inline, 0x1000, 64, () => false, () => false), [0x75e4]);
});

test('flagFieldStores: what a jump carries back to a join counts there (zstd\'s out-of-line cpuid block jumping back to the store of dctx->bmi2)', (t) => {
  // xor ecx,ecx; test edi,edi; jne 0x100c; [0x1006] mov [rdx+8],ecx; ret; nop; nop; [0x100c] cpuid; mov ecx,ebx; and ecx,1; jmp 0x1006
  const join = Uint8Array.from([0x31, 0xc9, 0x85, 0xff, 0x75, 0x06, 0x89, 0x4a, 0x08, 0xc3, 0x90, 0x90, 0x0f, 0xa2, 0x89, 0xd9, 0x83, 0xe1, 0x01, 0xeb, 0xf1]);
  t.deepEqual(flagFieldStores(join, 0x1000, 64, () => false, () => false), [8]);
  // Break it on purpose: the block jumps to the ret, not to the store: no flag field.
  const elsewhere = Uint8Array.from(join);
  elsewhere[20] = 0xf4;
  t.deepEqual(flagFieldStores(elsewhere, 0x1000, 64, () => false, () => false), []);
});

test('flagFieldStores: an out-of-line block a far jcc on a feature leads to writes feature values (libgcrypt\'s BLAKE2s init setting dl, then or eax, edx; mov [rbx+0x80], al)', (t) => {
  // push rbx; mov rbx, rdi; call 0x3000; mov ecx, eax; test ch, 0x10; jne ool; xor edx, edx;
  // join: movzx eax, byte [rbx+0x80]; or eax, edx; mov [rbx+0x80], al; pop rbx; ret; 80 × nop; ool: mov edx, 1; jmp join
  const head = [0x53, 0x48, 0x89, 0xfb, 0xe8, 0xf7, 0x1f, 0x00, 0x00, 0x89, 0xc1, 0xf6, 0xc5, 0x10, 0x75, 0x63, 0x31, 0xd2, 0x0f, 0xb6, 0x83, 0x80, 0x00, 0x00, 0x00, 0x09, 0xd0, 0x88, 0x83, 0x80, 0x00, 0x00, 0x00, 0x5b, 0xc3];
  const writer = Uint8Array.from([...head, ...new Array<number>(80).fill(0x90), 0xba, 0x01, 0x00, 0x00, 0x00, 0xeb, 0x98]);
  t.deepEqual(flagFieldStores(writer, 0x1000, 64, () => false, (a) => a === 0x3000), [0x80]);
  // Break it on purpose: the jcc tests dh, which holds no feature: the block's constant is just a constant.
  const unfed = Uint8Array.from(writer);
  unfed[12] = 0xc6;
  t.deepEqual(flagFieldStores(unfed, 0x1000, 64, () => false, (a) => a === 0x3000), []);
});

test('a getter\'s value moved to another register and tested picks a pointer table behind the guard (libgcrypt\'s keccak_init)', (t) => {
  // push rbx; mov rbx, rdi; call 0x3000; mov ecx, eax; lea rax, [0x6000]; test ecx, 0x20000; jne store;
  // lea rax, [0x6020]; test cl, 0x40; jne store; lea rax, [0x6040]; store: mov [rbx+0xd8], rax; pop rbx; ret
  const init = Uint8Array.from([
    0x53, 0x48, 0x89, 0xfb, 0xe8, 0xf7, 0x1f, 0x00, 0x00, 0x89, 0xc1, 0x48, 0x8d, 0x05, 0xee, 0x4f, 0x00, 0x00, 0xf7, 0xc1, 0x00, 0x00, 0x02, 0x00, 0x75, 0x13, 0x48, 0x8d, 0x05, 0xff, 0x4f,
    0x00, 0x00, 0xf6, 0xc1, 0x40, 0x75, 0x07, 0x48, 0x8d, 0x05, 0x13, 0x50, 0x00, 0x00, 0x48, 0x89, 0x83, 0xd8, 0x00, 0x00, 0x00, 0x5b, 0xc3,
  ]);
  // The tables' levels: what their entries need (v4, v3, v1).
  const tables: Record<number, number> = { 0x6000: 3, 0x6020: 2, 0x6040: 0 };
  const context = { isGetter: (a: number) => a === 0x3000, targetLevel: (a: number) => tables[a] ?? -1 };
  const split = guardSplit(init, 0x1000, 64, () => false, context);
  t.true((split?.guards ?? 0) >= 1);
  t.true(split!.guardedTargets.includes(0x6020), 'the v3 table is picked only behind the test');
  // Break it on purpose: ecx comes from esi, not from the getter: no guard, nothing guarded.
  const unfed = Uint8Array.from(init);
  unfed[10] = 0xf1;
  t.is(guardSplit(unfed, 0x1000, 64, () => false, context)?.guards ?? 0, 0);
});

test('guardSources: the light decode says "no guard" only where guardSplit finds none (a word read, a getter called, a flag field tested)', (t) => {
  const word = (a: number) => a === 0x2000;
  // GUARDED reads the word at 0x2000 through rip: a possible guard; with no word known, none.
  const guarded = guardSources(GUARDED, 0x1000, 64);
  t.deepEqual(guarded.addresses, [0x2000]);
  t.true(couldGuard(guarded, word));
  t.false(couldGuard(guarded, () => false));
  t.is(guardSplit(GUARDED, 0x1000, 64, () => false), undefined);
  // call 0x3000; test eax, eax; je +5; vpaddd; ret; paddd; ret: a guard only if 0x3000 is a getter.
  const getterCall = Uint8Array.from([0xe8, 0xfb, 0x1f, 0x00, 0x00, 0x85, 0xc0, 0x74, 0x05, 0xc5, 0xf5, 0xfe, 0xc1, 0xc3, 0x66, 0x0f, 0xfe, 0xc1, 0xc3]);
  const calls = guardSources(getterCall, 0x1000, 64);
  t.deepEqual(calls.calls, [0x3000]);
  t.true(couldGuard(calls, () => false, { isGetter: (a) => a === 0x3000 }));
  t.false(couldGuard(calls, () => false, { isGetter: (a) => a === 0x4000 }));
  // test byte [rdi+0xf0], 1; …: a flag field at 0xf0, not at 0xe8; a stack slot is no field.
  const field = Uint8Array.from([0xf6, 0x87, 0xf0, 0x00, 0x00, 0x00, 0x01, 0x74, 0x05, 0xe9, 0xf2, 0x2f, 0x00, 0x00, 0xe9, 0xed, 0x3f, 0x00, 0x00]);
  const fields = guardSources(field, 0x1000, 64);
  t.deepEqual(fields.fields, [0xf0]);
  t.true(couldGuard(fields, () => false, { flagFields: new Set([0xf0]) }));
  t.false(couldGuard(fields, () => false, { flagFields: new Set([0xe8]) }));
  t.false(couldGuard(fields, () => false));
  // test byte [rsp+0xf0], 1: the stack, never a field (guardSplit skips it too) — but a flag argument always may guard.
  const stack = Uint8Array.from([0xf6, 0x84, 0x24, 0xf0, 0x00, 0x00, 0x00, 0x01, 0xc3]);
  t.deepEqual(guardSources(stack, 0x1000, 64).fields, []);
  t.true(couldGuard(guardSources(stack, 0x1000, 64), () => false, { flagArguments: new Set([6]) }));
  // Wherever couldGuard says no, guardSplit finds nothing: the skip changes no answer.
  const contexts = [{}, { isGetter: (a: number) => a === 0x3000 }, { flagFields: new Set([0xf0]), targetLevel: (a: number) => (a === 0x4000 ? 2 : 0) }];
  for (const bytes of [GUARDED, getterCall, field, stack]) {
    for (const context of contexts) {
      for (const isWord of [word, () => false]) {
        if (!couldGuard(guardSources(bytes, 0x1000, 64), isWord, context)) t.is(guardSplit(bytes, 0x1000, 64, isWord, context), undefined);
      }
    }
  }
});
