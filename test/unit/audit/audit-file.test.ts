import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { auditFile } from '../../../harness/audit/audit-file.js';
import { comparedLoads } from '../../../harness/audit/compared.js';
import { ehFrameRanges } from '../../../harness/audit/eh-frame.js';
import { ElfError, probeElf, readBytes, readElf } from '../../../harness/audit/elf.js';
import { judgeFile } from '../../../harness/audit/findings.js';
import { buildAuditElves, type AuditElves } from '../../fixtures/audit-elves.js';

let root: string;
let elves: AuditElves;
test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'levelgate-audit-elves-'));
  elves = await buildAuditElves(root);
});
test.after.always(async () => {
  await rm(root, { recursive: true, force: true });
});

const features = (s: { features: readonly { feature: string }[] } | undefined) => (s?.features ?? []).map((f) => f.feature);

test('elf: code sections, symbols, the IRELATIVE relocation of a stripped target_clones binary', (t) => {
  const elf = readElf(elves.clones);
  t.is(elf.bits, 64);
  t.true(elf.code.some((c) => c.name === '.text'));
  t.true(elf.symbols.some((s) => s.name === 'add.avx2'));
  const stripped = readElf(elves.clonesStripped);
  t.false(stripped.symbols.some((s) => s.name === 'add.avx2'));
  t.is(stripped.irelative.length, 1);
  const fdes = ehFrameRanges(readBytes(stripped.path, stripped.ehFrame!.offset, stripped.ehFrame!.size), stripped.ehFrame!, 64);
  t.is(fdes.problem, undefined);
  t.true(fdes.ranges.some((r) => r.start <= stripped.irelative[0]! && stripped.irelative[0]! < r.end), 'an FDE covers the resolver');
});

test('elf: a truncated file is an ElfError that says what lies beyond its end; a text file is no ELF', (t) => {
  const error = t.throws(() => readElf(elves.truncated), { instanceOf: ElfError });
  t.regex(error!.message, /beyond the end of the file/);
  t.deepEqual(probeElf(Buffer.from('#!/bin/sh\n')), { kind: 'not-elf', reason: 'not an ELF file: it is a script (#!)' });
  const aarch64 = Buffer.alloc(64);
  aarch64.writeUInt32BE(0x7f454c46, 0);
  aarch64[4] = 2;
  aarch64[5] = 1;
  aarch64.writeUInt16LE(183, 18);
  t.deepEqual(probeElf(aarch64), { kind: 'other-elf', reason: 'ELF for AArch64: not x86 code' });
});

test('AVX2 in code with no CPU check: unconditional x86-64-v3, with example instructions', (t) => {
  const r = auditFile(elves.plain);
  t.is(r.status, 'audited');
  t.is(r.unconditional?.level, 'v3');
  t.true(r.unconditional!.levelSetBy.includes('AVX2'));
  const avx2 = r.unconditional!.features.find((f) => f.feature === 'AVX2')!;
  t.true(avx2.count > 0);
  t.regex(avx2.examples[0]!.text, /ymm/);
  t.regex(avx2.examples[0]!.address, /^0x[0-9a-f]+$/);
  t.is(r.conditional?.instructions, 0);
});

test('AVX2 only in a target_clones variant: conditional by the IFUNC rule, unconditional code stays v1', (t) => {
  for (const file of [elves.clones, elves.clonesStripped]) {
    const r = auditFile(file);
    t.is(r.all?.level, 'v3', file);
    t.is(r.unconditional?.level, 'v1', file);
    t.is(r.conditional?.level, 'v3', file);
    t.true((r.conditional?.byRule.ifunc ?? 0) >= 1, file);
    const variant = r.conditional!.functions.find((f) => f.level === 'v3')!;
    t.regex(variant.detail, /IFUNC/);
    if (file === elves.clones) t.is(variant.name, 'add.avx2');
  }
});

test('AVX2 only after __builtin_cpu_supports: conditional by the dispatch rule', (t) => {
  const r = auditFile(elves.dispatch);
  t.is(r.all?.level, 'v3');
  t.is(r.unconditional?.level, 'v1');
  const fast = r.conditional!.functions.find((f) => f.name.startsWith('add_fast'))!;
  t.is(fast.rule, 'dispatch');
  t.regex(fast.detail, /__cpu_model/);
  t.true(r.cpuChecks!.some((c) => /__cpu_model|cpuid/.test(c)));
});

test('AVX-512 code: x86-64-v4 with AVX512F; a clean program: v1 with SSE2 at most', (t) => {
  const r = auditFile(elves.avx512);
  t.is(r.unconditional?.level, 'v4');
  t.true(features(r.unconditional).includes('AVX512F'));
  t.true(r.unconditional!.features.find((f) => f.feature === 'AVX512F')!.examples.some((e) => /zmm/.test(e.text)));
  const clean = auditFile(elves.clean);
  t.is(clean.all?.level, 'v1');
  t.deepEqual(clean.all?.levelSetBy, []);
});

test('a glibc-hwcaps file is conditional at its level: the loader checks', (t) => {
  const r = auditFile(elves.libV3, '/usr/lib64/glibc-hwcaps/x86-64-v3/libscale.so.1');
  t.is(r.loaderLevel, 'v3');
  t.is(r.unconditional?.level, 'v3');
});

test('a truncated ELF and a text file are reported with the reason; nothing throws', (t) => {
  const broken = auditFile(elves.truncated);
  t.is(broken.status, 'error');
  t.regex(broken.reason!, /truncated or damaged: .* beyond the end of the file/);
  const text = auditFile(elves.text);
  t.is(text.status, 'skipped');
  t.regex(text.reason!, /not an ELF file/);
  const missing = auditFile(path.join(root, 'nothing-here'));
  t.is(missing.status, 'error');
  t.regex(missing.reason!, /ENOENT/);
});

test('built with -march=x86-64-v3 and labelled x86_64: a sure finding at v1 and at v2, with a CPU check elsewhere or without one', (t) => {
  for (const file of [elves.wholesaleV3, elves.wholesaleV3Checked]) {
    const r = auditFile(file);
    t.is(r.unconditional?.level, 'v3', file);
    for (const claim of ['v1', 'v2'] as const) {
      const finding = judgeFile(r, claim);
      t.like(finding, { certainty: 'sure', basis: 'reached', needs: 'v3', allowed: claim }, `${file} at ${claim}`);
      // The certainty names the entry point and the chain of calls it rests on.
      t.regex(finding!.why, /^reached without a CPU check from (main|entry point): .*(main|work)/, file);
    }
    t.is(judgeFile(r, 'v3'), undefined, file);
  }
  // The check is there and seen: it is no longer what makes the finding a suspect.
  const checked = auditFile(elves.wholesaleV3Checked);
  t.true(checked.cpuChecks!.some((c) => /__cpu_model|__cpu_indicator_init|cpuid/.test(c)));
});

test('a run-time flag in a structure (libgcrypt\'s use_avx2): AVX2 reached only past its test is a suspect (flag-field), not sure', (t) => {
  const r = auditFile(elves.flagField);
  t.is(r.unconditional?.level, 'v1');
  t.is(r.pastFlagFields?.level, 'v3');
  const finding = judgeFile(r, 'v1');
  t.like(finding, { certainty: 'suspect', basis: 'flag-field', needs: 'v3' });
  t.regex(finding!.why, /from export ctx_write: ctx_write → transform_wide only past tests of structure fields \(offset 0x[0-9a-f]+\)/);
  t.is(judgeFile(r, 'v3'), undefined);
  // Break it on purpose: the same field filled from elsewhere is no flag: the AVX2 code is reached, sure.
  const unfed = auditFile(elves.flagFieldUnfed);
  t.is(unfed.unconditional?.level, 'v3');
  t.is(unfed.pastFlagFields, undefined);
  t.like(judgeFile(unfed, 'v1'), { certainty: 'sure', basis: 'reached' });
});

test('a flag field set behind a short branch on the feature (libgcrypt\'s blake2 use_avx2): still a flag field, a suspect', (t) => {
  const r = auditFile(elves.flagFieldBranch);
  t.is(r.unconditional?.level, 'v1');
  t.is(r.pastFlagFields?.level, 'v3');
  t.like(judgeFile(r, 'v1'), { certainty: 'suspect', basis: 'flag-field' });
  // Break it on purpose: the branch tests another field, not the feature: no flag, reached, sure.
  const unfed = auditFile(elves.flagFieldBranchUnfed);
  t.is(unfed.unconditional?.level, 'v3');
  t.like(judgeFile(unfed, 'v1'), { certainty: 'sure', basis: 'reached' });
});

/** A dispatch the rules must see (the AVX2 code after a check, no finding) and its broken twin (the AVX2 code reached, sure). */
const guardedThenBroken = (t: ExecutionContext, guarded: string, broken: string, chain?: RegExp) => {
  const r = auditFile(guarded);
  t.is(r.unconditional?.level, 'v1');
  t.is(r.conditional?.level, 'v3');
  t.is(judgeFile(r, 'v1'), undefined);
  const b = auditFile(broken);
  t.is(b.unconditional?.level, 'v3');
  t.like(judgeFile(b, 'v1'), { certainty: 'sure', basis: 'reached' });
  if (chain) t.regex(judgeFile(b, 'v1')!.why, chain);
};

test('a flag passed as an argument (zstd\'s bmi2, on the stack) and tested in the callee guards the AVX2 body', (t) => {
  // Break it on purpose: baseline code passing a constant 1 forces the AVX2 body with no check: the argument is no flag for any caller.
  guardedThenBroken(t, elves.flagArgument, elves.flagArgumentForced, /body → body_wide/);
});

test('an address only compared (OpenSSL\'s ctx->ghash == gcm_ghash_avx) is no call: the AVX2 code stays after the check', (t) => {
  // Break it on purpose: an export that returns the address hands it to whoever calls it.
  guardedThenBroken(t, elves.comparedAddress, elves.leakedAddress, /export gctx_wide/);
});

test('comparedLoads: a register read only by cmp/test until it dies is compared; stored, returned, passed or moved it is used', (t) => {
  // lea rax,[rip+0x100]; cmp [rdi],rax; sete al; movzx eax,al; ret
  const compared = Uint8Array.from([0x48, 0x8d, 0x05, 0xf9, 0x00, 0x00, 0x00, 0x48, 0x39, 0x07, 0x0f, 0x94, 0xc0, 0x0f, 0xb6, 0xc0, 0xc3]);
  t.deepEqual([...comparedLoads(compared, 0x1000, 64, () => true)], [[0x1100, true]]);
  // lea rax,[rip+0x100]; mov [rdi],rax; ret: stored.
  const stored = Uint8Array.from([0x48, 0x8d, 0x05, 0xf9, 0x00, 0x00, 0x00, 0x48, 0x89, 0x07, 0xc3]);
  t.deepEqual([...comparedLoads(stored, 0x1000, 64, () => true)], [[0x1100, false]]);
  // lea rax,[rip+0x100]; cmp [rdi],rax; ret: the address is the return value.
  const returned = Uint8Array.from([0x48, 0x8d, 0x05, 0xf9, 0x00, 0x00, 0x00, 0x48, 0x39, 0x07, 0xc3]);
  t.deepEqual([...comparedLoads(returned, 0x1000, 64, () => true)], [[0x1100, false]]);
  // lea rdi,[rip+0x100]; call +0: passed as an argument.
  const passed = Uint8Array.from([0x48, 0x8d, 0x3d, 0xf9, 0x00, 0x00, 0x00, 0xe8, 0x00, 0x00, 0x00, 0x00, 0xc3]);
  t.deepEqual([...comparedLoads(passed, 0x1000, 64, () => true)], [[0x1100, false]]);
  // lea rbx,[rip+0x100]; cmp [rdi],rbx; je +3; mov rax,rbx; ret: compared, then moved on one side.
  const moved = Uint8Array.from([0x48, 0x8d, 0x1d, 0xf9, 0x00, 0x00, 0x00, 0x48, 0x39, 0x1f, 0x74, 0x03, 0x48, 0x89, 0xd8, 0xc3]);
  t.deepEqual([...comparedLoads(moved, 0x1000, 64, () => true)], [[0x1100, false]]);
});

test('reachability: the entry points are named, and code nothing reaches is unresolved, with how much', (t) => {
  const r = auditFile(elves.wholesaleV3Checked);
  t.true((r.reach?.entryKinds.entry ?? 0) + (r.reach?.entryKinds.main ?? 0) >= 1);
  t.true(r.reach!.reachedBytes > 0);
  t.is(r.reach!.reachedBytes + r.reach!.conditionalBytes + r.reach!.unresolvedBytes <= r.codeBytes, true);
  t.is(r.unresolved!.bytes, r.reach!.unresolvedBytes);
});
