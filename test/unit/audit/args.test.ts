// callArguments: the kinds of what a function passes its callees, with flags spilled to its own frame.
import test from 'ava';
import { callArguments } from '../../../harness/audit/args.js';

test('a flag argument spilled to a local slot and reloaded before a call is passed as a flag; the body past `ret; nop` has its own depth', (t) => {
  // sub rsp, 0x18; test edi, edi; jne body; add rsp, 0x18; ret; nop ×3;
  // body: mov eax, [rsp+0x20] (stack argument 6); mov [rsp+8], eax; call 0x2000; mov ecx, [rsp+8]; push rcx; call 0x3000; add rsp, 0x20; ret
  const spill = Uint8Array.from([
    0x48, 0x83, 0xec, 0x18, 0x85, 0xff, 0x75, 0x08, 0x48, 0x83, 0xc4, 0x18, 0xc3, 0x90, 0x90, 0x90, 0x8b, 0x44, 0x24, 0x20, 0x89, 0x44, 0x24, 0x08, 0xe8, 0xe3, 0x0f, 0x00, 0x00, 0x8b, 0x4c, 0x24,
    0x08, 0x51, 0xe8, 0xd9, 0x1f, 0x00, 0x00, 0x48, 0x83, 0xc4, 0x20, 0xc3,
  ]);
  const sources = { isCpuWord: () => false, incoming: new Set([6]) };
  t.deepEqual([...(callArguments(spill, 0x1000, 64, sources).get(0x3000)?.slots.get(6) ?? [])], [['flag', 1]]);
  // Break it on purpose: the slot is stored from edi (no flag): what is reloaded from it is none.
  const mixed = Uint8Array.from(spill);
  mixed[21] = 0x7c;
  t.is(callArguments(mixed, 0x1000, 64, sources).get(0x3000)?.slots.get(6)?.get('flag'), undefined);
});
