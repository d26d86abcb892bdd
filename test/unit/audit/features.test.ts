import test from 'ava';
import { classifyFeature, ICED_TO_PSABI, NOT_INSTRUCTIONS } from '../../../harness/audit/features.js';
import { codeInfo } from '../../../harness/audit/isa.js';
import { LEVELS } from '../../../harness/levels/table.js';
import icedX86 from 'iced-x86';

const { Code } = icedX86;

test('every psABI feature of the level table has an iced feature mapped to it, or names no instruction', (t) => {
  const mapped = new Set(Object.values(ICED_TO_PSABI));
  const missing = LEVELS.flatMap((l) => l.adds.map((f) => f.psabi)).filter((p) => !mapped.has(p) && !NOT_INSTRUCTIONS.includes(p));
  t.deepEqual(missing, []);
});

test('every mapped psABI name is in the level table (classifyFeature throws otherwise)', (t) => {
  for (const iced of Object.keys(ICED_TO_PSABI)) t.notThrows(() => classifyFeature(iced), iced);
  t.deepEqual(classifyFeature('AVX2'), { kind: 'level', psabi: 'AVX2', level: 2 });
  t.deepEqual(classifyFeature('AES'), { kind: 'beyond', name: 'AES' });
  t.deepEqual(classifyFeature('CET_IBT'), { kind: 'hint' });
});

test('LAHF/SAHF need LAHF-SAHF (v2) in 64-bit code only; tzcnt and xgetbv do not count; endbr64 needs nothing', (t) => {
  t.deepEqual(codeInfo(Code.Lahf, 64).psabi, ['LAHF-SAHF']);
  t.is(codeInfo(Code.Lahf, 64).level, 1);
  t.is(codeInfo(Code.Lahf, 32).level, -1);
  t.is(codeInfo(Code.Tzcnt_r32_rm32, 64).level, -1);
  t.regex(codeInfo(Code.Tzcnt_r32_rm32, 64).discounted ?? '', /bsf/);
  t.regex(codeInfo(Code.Xgetbv, 64).discounted ?? '', /CPU detection/);
  t.is(codeInfo(Code.Endbr64, 64).level, -1);
  t.false(codeInfo(Code.Endbr64, 64).interesting);
  t.is(codeInfo(Code.Rdsspq_r64, 64).level, -1);
});
