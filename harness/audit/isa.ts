// Decoding with iced-x86: per function, the instructions that need a CPU feature (by
// iced Code), the cross-function branches and address loads the dispatch rules follow,
// cpuid/xgetbv; later, for a few functions, their RIP-relative memory accesses and the
// text of example instructions. The hot loop reuses one Decoder per piece and one
// Instruction, memoises everything per Code, and frees every wasm object.
import icedX86 from 'iced-x86';
import { DISCOUNTED_CODES, HINT_CODES, classifyFeature } from './features.js';
import { ARGUMENT_REGISTERS, StackFrame } from './frame.js';

// iced-x86 is CommonJS: its enums and classes come off the default export.
const { Code, CpuidFeature, Decoder, DecoderOptions, FlowControl, Formatter, FormatterSyntax, Instruction, Mnemonic, OpKind, Register } = icedX86;
type IcedInstruction = InstanceType<typeof Instruction>;
type IcedFormatter = InstanceType<typeof Formatter>;

/** What one iced Code needs, resolved once per process (features depend only on the Code). */
export interface CodeInfo {
  /** iced's CPUID feature names (LAHF/SAHF renamed LAHF_SAHF in 64-bit code). */
  readonly iced: readonly string[];
  /** psABI feature names (harness/levels/table.ts) among them. */
  readonly psabi: readonly string[];
  /** Features outside every psABI level (AES, SHA, …). */
  readonly beyond: readonly string[];
  /** Highest psABI level index (0 = v1); -1 when the Code needs nothing beyond the general-purpose ISA. */
  readonly level: number;
  /** Why this Code does not count towards a level (tzcnt, xgetbv), if so. */
  readonly discounted: string | undefined;
  /** Worth recording per function: it needs a feature, or it is discounted. */
  readonly interesting: boolean;
}

const CODE_COUNT = Object.keys(Code).filter((k) => Number.isNaN(Number(k))).length;
// Read enum members into locals once: Code is a ~10 000-key object, slow to index in a hot loop.
const INVALID = Code.INVALID;
const CPUID = Code.Cpuid;
const XGETBV = Code.Xgetbv;
const LAHF = Code.Lahf;
const SAHF = Code.Sahf;
const LEA = Mnemonic.Lea;
const OP_MEMORY = OpKind.Memory;
const FEATURE_NAMES: string[] = [];
for (const [name, value] of Object.entries(CpuidFeature)) if (typeof value === 'number') FEATURE_NAMES[value] = name;
const CODE_NAMES: string[] = [];
for (const [name, value] of Object.entries(Code)) if (typeof value === 'number') CODE_NAMES[value] = name;
const HINTS = new Set(HINT_CODES.map((name) => Code[name as keyof typeof Code] as number));
/** Mnemonics whose memory first operand is only read. */
const READS_FIRST_OPERAND = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Bt, Mnemonic.Push, Mnemonic.Call, Mnemonic.Jmp, Mnemonic.Prefetchnta, Mnemonic.Prefetcht0, Mnemonic.Prefetcht1, Mnemonic.Prefetcht2, Mnemonic.Nop]);

const infoMemo: { 32: (CodeInfo | undefined)[]; 64: (CodeInfo | undefined)[] } = { 32: new Array(CODE_COUNT), 64: new Array(CODE_COUNT) };
let probe: IcedInstruction | undefined;

/** The CodeInfo of an iced Code in 32- or 64-bit code. */
export function codeInfo(code: number, bits: 32 | 64): CodeInfo {
  const memo = infoMemo[bits];
  const known = memo[code];
  if (known) return known;
  probe ??= new Instruction();
  probe.code = code;
  let iced = Array.from(probe.cpuidFeatures(), (f) => FEATURE_NAMES[f] ?? `feature#${f}`);
  // iced files LAHF/SAHF under INTEL8086; in 64-bit mode they need CPUID's LAHF-SAHF bit.
  if (bits === 64 && (code === LAHF || code === SAHF)) iced = ['LAHF_SAHF'];
  if (HINTS.has(code)) iced = ['CET_IBT'];
  const psabi: string[] = [];
  const beyond: string[] = [];
  let level = -1;
  for (const name of iced) {
    const c = classifyFeature(name);
    if (c.kind === 'level') {
      psabi.push(c.psabi);
      level = Math.max(level, c.level);
    } else if (c.kind === 'beyond') beyond.push(c.name);
  }
  const discounted = DISCOUNTED_CODES[CODE_NAMES[code] ?? ''];
  const info: CodeInfo = { iced, psabi, beyond, level: discounted ? -1 : level, discounted, interesting: psabi.length > 0 || beyond.length > 0 || discounted !== undefined };
  memo[code] = info;
  return info;
}

export const codeName = (code: number): string => CODE_NAMES[code] ?? `code#${code}`;

export const CODES = CODE_COUNT;

/** One function's (or gap's) decoding. */
export interface ScannedPiece {
  /** Interesting Codes, and (`counts`, same order) how often each occurs. */
  readonly codes: readonly number[];
  readonly counts: readonly number[];
  readonly instructions: number;
  readonly invalid: number;
  readonly invalidBytes: number;
  /** Highest level index of its non-discounted Codes; -1 when none needs a feature. */
  readonly level: number;
  readonly cpuid: boolean;
  readonly xgetbv: boolean;
  /** Direct call/jmp/jcc targets outside the piece. */
  readonly branchTargets: readonly number[];
  /** RIP-relative LEA targets outside the piece (function pointers, data addresses). */
  readonly addressLoads: readonly number[];
  /** Call targets and loaded addresses inside the piece: entry points of the functions a gap holds. */
  readonly innerEntries: readonly number[];
  /** A gap that decoded to an invalid or privileged instruction: data, not code, and left out. */
  readonly rejected: boolean;
}

// Per-Code kinds for the hot loop: bit 1 interesting, 2 direct branch, 4 LEA, 8 cpuid/xgetbv, 16 privileged, 32 call.
const K_INTERESTING = 1;
const K_BRANCH = 2;
const K_LEA = 4;
const K_CHECK = 8;
const K_PRIVILEGED = 16;
const K_CALL = 32;
const K_IMMEDIATE = 64;
/** Codes that put a 32-bit immediate in a register or in memory: in a non-PIE executable, how a function pointer is taken. */
const IMMEDIATE_LOADS = new Set<number>([Code.Mov_r32_imm32, Code.Mov_rm32_imm32, Code.Mov_rm64_imm32, Code.Pushq_imm32]);
const kindMemo: { 32: Int16Array; 64: Int16Array } = { 32: new Int16Array(CODE_COUNT).fill(-1), 64: new Int16Array(CODE_COUNT).fill(-1) };

function kindOf(code: number, bits: 32 | 64): number {
  const info = codeInfo(code, bits);
  probe!.code = code;
  let kind = 0;
  if (info.interesting) kind |= K_INTERESTING;
  if (probe!.isCallNear || probe!.isJmpShortOrNear || probe!.isJccShortOrNear) kind |= K_BRANCH;
  if (probe!.isCallNear) kind |= K_CALL;
  if (IMMEDIATE_LOADS.has(code)) kind |= K_IMMEDIATE;
  if (probe!.mnemonic === LEA) kind |= K_LEA;
  if (code === CPUID || code === XGETBV) kind |= K_CHECK;
  if (probe!.isPrivileged) kind |= K_PRIVILEGED;
  kindMemo[bits][code] = kind;
  return kind;
}

let shared: IcedInstruction | undefined;
let counts: Uint32Array | undefined;
const EMPTY: readonly number[] = Object.freeze([]);

/**
 * Decodes one function or gap at `start`. A trusted piece (a function) keeps going past
 * undecodable bytes, counting them; an untrusted one (a gap between functions) is
 * rejected as data at the first invalid or privileged instruction. With `codeSpan` (the
 * span of a non-PIE executable's code), immediates inside it count as address loads.
 */
export function scanPiece(bytes: Uint8Array, start: number, bits: 32 | 64, trusted: boolean, codeSpan?: { readonly low: number; readonly high: number }): ScannedPiece {
  const instr = (shared ??= new Instruction());
  const tally = (counts ??= new Uint32Array(CODE_COUNT));
  const kinds = kindMemo[bits];
  const end = start + bytes.length;
  // Addresses below 2^31 fit nearBranch32, a number; above, the bigint getter is needed.
  const narrow = end < 0x7fffffff;
  const touched: number[] = [];
  const refs: PieceRefs = { start, end, narrow, codeSpan };
  let instructions = 0;
  let invalid = 0;
  let invalidBytes = 0;
  let cpuid = false;
  let xgetbv = false;
  let rejected = false;
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    // No canDecode per instruction (a wasm call): at the end decodeOut gives INVALID of length 0.
    for (;;) {
      decoder.decodeOut(instr);
      const code = instr.code;
      if (code === INVALID) {
        const length = instr.length;
        if (length === 0) break;
        if (!trusted) {
          rejected = true;
          break;
        }
        invalid++;
        invalidBytes += length;
        continue;
      }
      instructions++;
      let kind = kinds[code]!;
      if (kind === 0) continue;
      if (kind < 0) kind = kindOf(code, bits);
      if (kind & K_INTERESTING) {
        const seen = tally[code]!;
        tally[code] = seen + 1;
        if (seen === 0) touched.push(code);
      }
      if (kind & (K_IMMEDIATE | K_BRANCH | K_LEA)) noteReference(refs, instr, kind);
      if (kind & K_CHECK) {
        if (code === CPUID) cpuid = true;
        else xgetbv = true;
      }
      if (kind & K_PRIVILEGED && !trusted) {
        rejected = true;
        break;
      }
    }
  } finally {
    decoder.free();
  }
  const { codes, counts: tallies, level } = takeTally(tally, touched, bits, rejected);
  if (rejected) return { codes: EMPTY, counts: EMPTY, instructions: 0, invalid: 0, invalidBytes: 0, level: -1, cpuid: false, xgetbv: false, branchTargets: EMPTY, addressLoads: EMPTY, innerEntries: EMPTY, rejected };
  return { codes, counts: tallies, instructions, invalid, invalidBytes, level, cpuid, xgetbv, branchTargets: refs.branchTargets ?? EMPTY, addressLoads: refs.addressLoads ?? EMPTY, innerEntries: refs.innerEntries ?? EMPTY, rejected };
}

/** What a piece refers to. The lists are allocated on first use: most pieces have few or none, and garbage is the scan's main cost after decoding. */
interface PieceRefs {
  readonly start: number;
  readonly end: number;
  /** Addresses below 2^31 fit nearBranch32, a number; above, the bigint getter is needed. */
  readonly narrow: boolean;
  readonly codeSpan: { readonly low: number; readonly high: number } | undefined;
  branchTargets?: number[];
  addressLoads?: number[];
  innerEntries?: number[];
}

/** A branch, a RIP-relative LEA or (non-PIE) an immediate inside the code: outside the piece a target or an address load, inside it an entry. */
function noteReference(refs: PieceRefs, instr: IcedInstruction, kind: number): void {
  const { start, end, codeSpan } = refs;
  if (kind & K_IMMEDIATE) {
    if (!codeSpan) return;
    const value = instr.immediate32;
    if (value < codeSpan.low || value >= codeSpan.high) return;
    if (value < start || value >= end) (refs.addressLoads ??= []).push(value);
    else if (value > start) (refs.innerEntries ??= []).push(value);
  } else if (kind & K_BRANCH) {
    const target = refs.narrow ? instr.nearBranch32 : Number(instr.nearBranch64);
    if (target < start || target >= end) (refs.branchTargets ??= []).push(target);
    else if (kind & K_CALL && target > start) (refs.innerEntries ??= []).push(target);
  } else if (instr.isIpRelMemoryOperand) {
    const target = Number(instr.ipRelMemoryAddress);
    if (target < start || target >= end) (refs.addressLoads ??= []).push(target);
    else if (target > start) (refs.innerEntries ??= []).push(target);
  }
}

/** The codes a piece touched with their counts and the level they need; the shared tally is cleared for the next piece. */
function takeTally(tally: Uint32Array, touched: readonly number[], bits: 32 | 64, rejected: boolean): { codes: number[]; counts: number[]; level: number } {
  const codes: number[] = [];
  const counts: number[] = [];
  let level = -1;
  for (const code of touched) {
    if (!rejected) {
      codes.push(code);
      counts.push(tally[code]!);
      level = Math.max(level, codeInfo(code, bits).level);
    }
    tally[code] = 0;
  }
  return { codes, counts, level };
}

export interface MemoryAccesses {
  readonly reads: readonly number[];
  readonly writes: readonly number[];
  /** Addresses loaded with LEA: passed on, to be read or written elsewhere. */
  readonly addresses: readonly number[];
}

/** The RIP-relative memory a function reads, writes, and takes the address of. */
export function memoryAccesses(bytes: Uint8Array, start: number, bits: 32 | 64): MemoryAccesses {
  const instr = (shared ??= new Instruction());
  const reads: number[] = [];
  const writes: number[] = [];
  const addresses: number[] = [];
  if (bits !== 64) return { reads, writes, addresses };
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      if (instr.code === INVALID || !instr.isIpRelMemoryOperand) continue;
      const address = Number(instr.ipRelMemoryAddress);
      const mnemonic = instr.mnemonic;
      if (mnemonic === LEA) addresses.push(address);
      else if (instr.op0Kind === OP_MEMORY && !READS_FIRST_OPERAND.has(mnemonic)) writes.push(address);
      else reads.push(address);
    }
  } finally {
    decoder.free();
  }
  return { reads, writes, addresses };
}

/** Each RIP-relative indirect jmp of a PLT section: [its address, the GOT slot it jumps through]. */
export function pltJumps(bytes: Uint8Array, start: number, bits: 32 | 64): [number, number][] {
  const instr = (shared ??= new Instruction());
  const out: [number, number][] = [];
  if (bits !== 64) return out;
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      if (instr.isJmpNearIndirect && instr.isIpRelMemoryOperand) out.push([Number(instr.ip), Number(instr.ipRelMemoryAddress)]);
    }
  } finally {
    decoder.free();
  }
  return out;
}

let formatter: IcedFormatter | undefined;
function format(instr: IcedInstruction): string {
  if (!formatter) {
    formatter = new Formatter(FormatterSyntax.Intel);
    formatter.hexPrefix = '0x';
    formatter.hexSuffix = '';
    formatter.uppercaseHex = false;
    formatter.branchLeadingZeros = false;
  }
  return formatter.format(instr);
}

export interface Example {
  readonly code: number;
  readonly address: number;
  readonly text: string;
}

/** The first instructions (at most `max` per Code) of the wanted Codes in a function, with their Intel-syntax text. */
export function examplesIn(bytes: Uint8Array, start: number, bits: 32 | 64, wanted: ReadonlySet<number>, max: number): Example[] {
  const instr = (shared ??= new Instruction());
  const found: Example[] = [];
  const perCode = new Map<number, number>();
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      const code = instr.code;
      if (!wanted.has(code)) continue;
      const n = perCode.get(code) ?? 0;
      if (n >= max) continue;
      perCode.set(code, n + 1);
      found.push({ code, address: Number(instr.ip), text: format(instr) });
    }
  } finally {
    decoder.free();
  }
  return found;
}

export interface DecodedInstruction {
  readonly code: number;
  readonly text: string;
  readonly length: number;
  readonly info: CodeInfo;
}

/** The one instruction at the start of `bytes` (at address `ip`), or undefined when the bytes decode to no valid instruction. */
export function decodeOne(bytes: Uint8Array, ip: number | bigint, bits: 32 | 64 = 64): DecodedInstruction | undefined {
  const instr = new Instruction();
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(ip);
    if (!decoder.canDecode) return undefined;
    decoder.decodeOut(instr);
    if (instr.code === INVALID) return undefined;
    return { code: instr.code, text: format(instr), length: instr.length, info: codeInfo(instr.code, bits) };
  } finally {
    decoder.free();
    instr.free();
  }
}

const MNEMONIC_NAMES: string[] = [];
for (const [name, value] of Object.entries(Mnemonic)) if (typeof value === 'number') MNEMONIC_NAMES[value] = name;
/** setcc and cmovcc: their result comes from the flags. */
export const FLAG_USERS = new Set(MNEMONIC_NAMES.flatMap((name, m) => (/^(Set(a|ae|b|be|e|g|ge|l|le|ne|no|np|ns|o|p|s)|Cmov[a-z]+)$/.test(name ?? '') ? [m] : [])));
const REGISTER_NAMES: string[] = [];
for (const [name, value] of Object.entries(Register)) if (typeof value === 'number') REGISTER_NAMES[value] = name;
/** The general-purpose register a name belongs to, whatever its width: EDX, DL, RDX → D; R8D → R8; SIL → SI. */
const familyMemo: (string | undefined)[] = [];
export function registerFamily(register: number): string {
  return (familyMemo[register] ??= familyOf(register));
}
function familyOf(register: number): string {
  const name = (REGISTER_NAMES[register] ?? '').toUpperCase();
  const numbered = /^R(\d+)[BWDL]?$/.exec(name);
  if (numbered) return `R${numbered[1]}`;
  const base = name.length === 3 && (name[0] === 'R' || name[0] === 'E') ? name.slice(1) : name;
  if (/^[ABCD][LHX]$/.test(base)) return base[0]!;
  if (/^(SI|DI|BP|SP)L?$/.test(base)) return base.slice(0, 2);
  return '';
}

export function hasMemoryOperand(instr: IcedInstruction): boolean {
  for (let k = 0; k < instr.opCount; k++) if (instr.opKind(k) === OP_MEMORY) return true;
  return false;
}

/** Registers a call may clobber (System V): what they held before it is gone after it. */
const CALL_CLOBBERED = ['A', 'C', 'D', 'SI', 'DI', 'R8', 'R9', 'R10', 'R11'];
/** Moves and loads: they set their destination from their sources alone. */
const MOVES = new Set<number>([Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd, LEA]);
/** What only reads its operands and sets the flags from them. */
const TESTS = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Bt]);

/**
 * Flag fields: the displacements of the structure fields (`[reg+disp]`, not the stack)
 * a function stores a CPU-feature value into — libgcrypt's `c->use_avx2 = !!(features &
 * HWF_INTEL_AVX2)` after `_gcry_get_hw_features()`, zstd's `dctx->bmi2 =
 * ZSTD_cpuSupportsBmi2()` after an inlined cpuid. A value is a CPU-feature value when it
 * comes, through moves, arithmetic, tests and setcc/cmovcc, from cpuid or xgetbv's
 * outputs, a RIP-relative read of a CPU-feature word, or what a getter (`isGetter`:
 * a small function returning such a word) returns. One pass in address order, as the
 * code is laid out; a call forgets the registers it may clobber, a jmp or ret forgets all.
 * What the code a short forward jcc on such a value skips writes depends on it too
 * (libgcrypt's `test ch, 0x20; je +0x1c; … sete dl` before `or eax, edx; mov [rbx+0xf0], al`).
 */
export function flagFieldStores(bytes: Uint8Array, start: number, bits: 32 | 64, isCpuWord: (address: number) => boolean, isGetter: (target: number) => boolean): number[] {
  if (bits !== 64) return [];
  const instr = (shared ??= new Instruction());
  const scan = new FieldScan(start, start + bytes.length, isCpuWord, isGetter);
  // Twice: the second pass brings what backward jumps carry.
  for (let round = 0; round < 2; round++) {
    scan.restart();
    const decoder = new Decoder(bits, bytes, DecoderOptions.None);
    try {
      decoder.ip = BigInt(start);
      while (decoder.canDecode) {
        decoder.decodeOut(instr);
        scan.step(instr);
      }
    } finally {
      decoder.free();
    }
    if (!scan.carriesAny) break;
  }
  return [...scan.fields];
}

/** One walk of flagFieldStores in address order: which registers hold a CPU-feature value, and the fields they are stored into. */
class FieldScan {
  readonly fields = new Set<number>();
  readonly #tainted = new Set<string>();
  /** Registers holding a RIP-relative address (a global's). */
  readonly #globals = new Set<string>();
  #flagsTainted = false;
  /** The end of the code a short jcc on a feature test skips: registers written before it hold a feature-dependent value. */
  #shadowEnd = -1;
  /** What is tainted where a jump lands: carried there (zstd stores `dctx->bmi2` at the join its out-of-line cpuid block jumps back to). */
  readonly #carried = new Map<number, Set<string>>();
  /**
   * Out-of-line blocks a longer jcc on a feature test leads to (libgcrypt's BLAKE2s init: `test ah, 0x10;
   * jne …` to a block that sets `dl` and jumps back to `or eax, edx; mov [rbx+0x80], al`): entered only by
   * jumps, everything they write until their jump back depends on the feature.
   */
  readonly #outOfLine = new Set<number>();
  #inOutOfLine = false;
  #flowEnded = false;

  constructor(
    private readonly start: number,
    private readonly end: number,
    private readonly isCpuWord: (address: number) => boolean,
    private readonly isGetter: (target: number) => boolean,
  ) {}

  get carriesAny(): boolean {
    return this.#carried.size > 0;
  }

  restart(): void {
    this.#tainted.clear();
    this.#flagsTainted = false;
    this.#shadowEnd = -1;
    this.#inOutOfLine = false;
    this.#flowEnded = false;
  }

  step(instr: IcedInstruction): void {
    if (instr.code === INVALID) {
      this.#tainted.clear();
      this.#flagsTainted = false;
      return;
    }
    const here = this.#carried.get(Number(instr.ip));
    if (here) for (const r of here) this.#tainted.add(r);
    const mnemonic = instr.mnemonic;
    const fc = instr.flowControl;
    if (this.#flowEnded && mnemonic !== Mnemonic.Nop && mnemonic !== Mnemonic.Int3) {
      this.#inOutOfLine = this.#outOfLine.has(Number(instr.ip));
      this.#flowEnded = false;
    }
    if ((fc === FlowControl.UnconditionalBranch || fc === FlowControl.ConditionalBranch) && this.#tainted.size) this.#carry(Number(instr.nearBranch64));
    if (mnemonic === Mnemonic.Cpuid) for (const r of ['A', 'B', 'C', 'D']) this.#tainted.add(r);
    else if (mnemonic === Mnemonic.Xgetbv) for (const r of ['A', 'D']) this.#tainted.add(r);
    else if (fc === FlowControl.Call) {
      for (const r of CALL_CLOBBERED) this.#tainted.delete(r);
      this.#flagsTainted = false;
      if (this.isGetter(Number(instr.nearBranch64))) this.#tainted.add('A');
    } else if (fc === FlowControl.Return || fc === FlowControl.UnconditionalBranch || fc === FlowControl.IndirectBranch || fc === FlowControl.Exception || fc === FlowControl.Interrupt) {
      this.#tainted.clear();
      this.#flagsTainted = false;
      this.#inOutOfLine = false;
      this.#flowEnded = true;
    } else if (fc === FlowControl.ConditionalBranch) this.#branch(instr);
    else this.#data(instr);
  }

  #carry(target: number): void {
    if (target < this.start || target >= this.end) return;
    let at = this.#carried.get(target);
    if (!at) this.#carried.set(target, (at = new Set()));
    for (const r of this.#tainted) at.add(r);
  }

  /** A short forward jump on a feature test: what the code it skips writes depends on the feature; a longer one leads to an out-of-line block. */
  #branch(instr: IcedInstruction): void {
    const target = Number(instr.nearBranch64);
    const ip = Number(instr.ip);
    if (this.#flagsTainted && target > ip && target - ip <= SHADOW) this.#shadowEnd = Math.max(this.#shadowEnd, target);
    else if (this.#flagsTainted && target > ip && target < this.end) this.#outOfLine.add(target);
  }

  /** Any other instruction: its sources (the registers of operands 1.., a CPU-feature word read, the flags of a test) taint what it writes. */
  #data(instr: IcedInstruction): void {
    const mnemonic = instr.mnemonic;
    let source = false;
    let cpuRead = false;
    for (let k = 0; k < instr.opCount; k++) {
      const kind = instr.opKind(k);
      if (kind === OpKind.Register) {
        if (k > 0 && this.#tainted.has(registerFamily(instr.opRegister(k)))) source = true;
      } else if (kind === OP_MEMORY && instr.isIpRelMemoryOperand && mnemonic !== LEA && this.isCpuWord(Number(instr.ipRelMemoryAddress))) cpuRead = true;
    }
    const usesFlags = FLAG_USERS.has(mnemonic);
    if (usesFlags && this.#flagsTainted) source = true;
    const op0Register = instr.opCount > 0 && instr.op0Kind === OpKind.Register ? registerFamily(instr.op0Register) : '';
    if (TESTS.has(mnemonic)) {
      this.#flagsTainted = source || cpuRead || (op0Register !== '' && this.#tainted.has(op0Register));
      return;
    }
    if (instr.opCount > 0 && instr.op0Kind === OP_MEMORY) {
      if (source) this.#store(instr);
      this.#flagsTainted = false;
      return;
    }
    if (!op0Register) return;
    if (mnemonic === LEA && instr.isIpRelMemoryOperand) this.#globals.add(op0Register);
    else this.#globals.delete(op0Register);
    // xor eax, eax and sub eax, eax: a zero, whatever eax held.
    const self = instr.opCount === 2 && instr.op1Kind === OpKind.Register && registerFamily(instr.op1Register) === op0Register && (mnemonic === Mnemonic.Xor || mnemonic === Mnemonic.Sub);
    const keeps = !MOVES.has(mnemonic) && !usesFlags && this.#tainted.has(op0Register);
    if ((!self && (source || cpuRead || keeps)) || Number(instr.ip) < this.#shadowEnd || this.#inOutOfLine) this.#tainted.add(op0Register);
    else this.#tainted.delete(op0Register);
    this.#flagsTainted = (mnemonic === Mnemonic.And || mnemonic === Mnemonic.Or || mnemonic === Mnemonic.Shr || mnemonic === Mnemonic.Sar) && this.#tainted.has(op0Register);
  }

  /** A feature value stored into a structure field. Not through a pointer to a global this function took (OpenSSL's cpuid setup storing OPENSSL_ia32cap_P[2] as [rdi+8]): that is a word, not a field. */
  #store(instr: IcedInstruction): void {
    const base = registerFamily(instr.memoryBase);
    if (!instr.isIpRelMemoryOperand && base && base !== 'SP' && !this.#globals.has(base) && instr.memoryIndex === Register.None && instr.memoryDisplacementU64 > 0n && instr.memoryDisplacementU64 < 0x10000n) {
      this.fields.add(Number(instr.memoryDisplacementU64));
    }
  }
}

/** A jcc on a feature test skipping at most this many bytes (a branch over a few instructions, not a function) makes what they write depend on the feature. */
const SHADOW = 64;

/** What else tells guards and their sides apart (all optional): see guardSplit. */
export interface GuardContext {
  /** A small function that returns a CPU-feature word (`has_avx2()`, OpenSSL's `rsaz_avx2_eligible`): a test of what it returned is a guard. */
  readonly isGetter?: (target: number) => boolean;
  /** Displacements of flag fields (flagFieldStores): a test of `[reg+disp]` is a guard. */
  readonly flagFields?: ReadonlySet<number>;
  /** The level a target outside the function leads to: a side that calls or jumps to more needs more. */
  readonly targetLevel?: (address: number) => number;
  /** The function's argument slots (0–5 rdi…r9, 6… the stack) every caller fills with a flag or a constant (zstd's bmi2): a test of one is a guard. */
  readonly flagArguments?: ReadonlySet<number>;
}

/** A function split at its guards: the jcc right after a read of a CPU-feature word. */
export interface GuardSplit {
  /** Instructions reached from the function's start without taking a guard's checked side: their Codes and counts. */
  readonly open: { readonly codes: readonly number[]; readonly counts: readonly number[]; readonly level: number };
  /** Instructions reached only through a guard's checked side. */
  readonly guarded: { readonly codes: readonly number[]; readonly counts: readonly number[]; readonly level: number };
  /** Targets outside the function (branches, address loads) referred to only from guarded instructions. */
  readonly guardedTargets: readonly number[];
  /** Targets outside the function a guard itself jumps to (BoringSSL's `je ecp_nistz256_point_addx`): checked when they need more than the open part. */
  readonly guardExits: readonly number[];
  readonly guards: number;
}

/**
 * What could make guardSplit find a guard in a function, gathered by one light decode:
 * the RIP-relative addresses its operands name, its direct call targets, and the
 * displacements of its `[reg+disp]` operands (no index, a base other than the stack).
 * guardSplit reads no flag unless one of these is a CPU-feature word, a getter or a flag
 * field (or the function has flag arguments), so a function whose sources name none is
 * no guard, without the full walk; most functions are such.
 */
export interface GuardSources {
  readonly addresses: readonly number[];
  readonly calls: readonly number[];
  readonly fields: readonly number[];
}

export function guardSources(bytes: Uint8Array, start: number, bits: 32 | 64): GuardSources {
  const addresses: number[] = [];
  const calls: number[] = [];
  const fields: number[] = [];
  if (bits !== 64) return { addresses, calls, fields };
  const instr = (shared ??= new Instruction());
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      if (instr.code === INVALID) continue;
      if (instr.isIpRelMemoryOperand) addresses.push(Number(instr.ipRelMemoryAddress));
      else if (instr.flowControl === FlowControl.Call) calls.push(Number(instr.nearBranch64));
      else {
        const base = instr.memoryBase;
        if (base !== Register.None && instr.memoryIndex === Register.None) {
          const family = registerFamily(base);
          if (family && family !== 'SP') fields.push(Number(instr.memoryDisplacementU64));
        }
      }
    }
  } finally {
    decoder.free();
  }
  return { addresses, calls, fields };
}

/** Whether guardSplit, given these sources and context, could find any read of a flag: false means it returns undefined. */
export function couldGuard(sources: GuardSources, isCpuWord: (address: number) => boolean, context: GuardContext = {}): boolean {
  if (context.flagArguments?.size) return true;
  if (sources.addresses.some(isCpuWord)) return true;
  const { isGetter, flagFields } = context;
  if (isGetter && sources.calls.some(isGetter)) return true;
  return !!flagFields?.size && sources.fields.some((d) => flagFields.has(d));
}

/** At most this many instructions after a CPU-feature read, with no branch between, the jcc that tests it is a guard. */
const GUARD_WINDOW = 8;
const MAX_GUARDED_INSTRUCTIONS = 50_000;

/**
 * Splits a function at its guards (Go's `cmpb internal/cpu.X86.HasAVX2, $1; je`, BoringSSL's
 * `bt OPENSSL_ia32cap_P+8`): a jcc within eight instructions of a RIP-relative read of a
 * CPU-feature word. Of a guard's two sides, the one leading to code (found only from
 * that side) needing more than the other side's is the checked side; what only checked
 * sides lead to is guarded. Undefined when the function reads no CPU-feature word.
 */
export function guardSplit(bytes: Uint8Array, start: number, bits: 32 | 64, isCpuWord: (address: number) => boolean, context: GuardContext = {}): GuardSplit | undefined {
  if (bits !== 64) return undefined;
  const code = decodeForGuards(bytes, start, isCpuWord, context);
  if (!code) return undefined;
  const guards = findGuards(code);
  const checkedSide = checkedSides(code, guards, context.targetLevel);
  const end = start + bytes.length;
  const exits = guards.filter((i) => code.targets[i]! < start || code.targets[i]! >= end).map((i) => code.targets[i]!);
  if (!checkedSide.size && !exits.length) return undefined;
  const open = walkFlow(code, 0, checkedSide);
  const openTargets = new Set<number>();
  for (let k = 0; k < code.n; k++) if (open[k] && code.outside[k]! >= 0) openTargets.add(code.outside[k]!);
  const guardedTargets = new Set<number>();
  for (let k = 0; k < code.n; k++) if (!open[k] && code.outside[k]! >= 0 && !openTargets.has(code.outside[k]!)) guardedTargets.add(code.outside[k]!);
  return { open: tallyPart(code, open, 1), guarded: tallyPart(code, open, 0), guardedTargets: [...guardedTargets], guardExits: exits, guards: checkedSide.size };
}

/** A function decoded for guardSplit: per instruction its Code, its flow, where it leads outside, and whether it reads a flag. */
interface GuardCode {
  readonly n: number;
  readonly bits: 64;
  readonly codes: readonly number[];
  /** Per instruction: -1 falls through only; -2 ends the flow; 1 an unconditional jmp, 2 a jcc (to targets[i]). */
  readonly flow: readonly number[];
  readonly targets: readonly number[];
  /** The address outside the function it calls, jumps to or loads; -1 for none. */
  readonly outside: readonly number[];
  readonly reads: readonly boolean[];
  readonly indexOf: ReadonlyMap<number, number>;
}

/** Decodes the function, following which registers hold a flag (a CPU-feature word read, a getter's result, a flag field or argument); undefined when nothing reads one. */
function decodeForGuards(bytes: Uint8Array, start: number, isCpuWord: (address: number) => boolean, context: GuardContext): GuardCode | undefined {
  const { isGetter, flagFields, flagArguments } = context;
  const instr = (shared ??= new Instruction());
  const end = start + bytes.length;
  const ips: number[] = [];
  const codes: number[] = [];
  const flow: number[] = [];
  const targets: number[] = [];
  const outside: number[] = [];
  const reads: boolean[] = [];
  const flags = new Set<string>();
  const pointers = new Set<string>();
  let anyRead = false;
  // Flag arguments arrive in their registers (and stack slots, read through the frame).
  for (const slot of flagArguments ?? []) if (slot < ARGUMENT_REGISTERS.length) flags.add(ARGUMENT_REGISTERS[slot]!);
  const frame = flagArguments?.size ? new StackFrame() : undefined;
  if (frame) anyRead = true;
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    while (decoder.canDecode && ips.length < MAX_GUARDED_INSTRUCTIONS) {
      decoder.decodeOut(instr);
      const code = instr.code;
      ips.push(Number(instr.ip));
      codes.push(code);
      frame?.enter(instr);
      let read = false;
      let out = -1;
      const mnemonic = instr.mnemonic;
      const op0 = code !== INVALID && instr.opCount > 0 && instr.op0Kind === OpKind.Register ? registerFamily(instr.op0Register) : '';
      let pointer = false;
      if (code !== INVALID && instr.isIpRelMemoryOperand) {
        const address = Number(instr.ipRelMemoryAddress);
        if (mnemonic === LEA) {
          if (address < start || address >= end) out = address;
          // BoringSSL: leaq OPENSSL_ia32cap_P(%rip), %rcx; mov 8(%rcx), %ecx.
          if (op0 && isCpuWord(address)) pointer = true;
        } else if (isCpuWord(address)) read = anyRead = true;
      } else if (code !== INVALID && pointers.size && mnemonic !== LEA && hasMemoryOperand(instr) && pointers.has(registerFamily(instr.memoryBase))) read = anyRead = true;
      // A flag field (libgcrypt's `test byte [rbx+0xf0], 1`): a structure field a CPU check stored a feature into.
      else if (code !== INVALID && flagFields?.size && mnemonic !== LEA && hasMemoryOperand(instr) && instr.memoryIndex === Register.None && flagFields.has(Number(instr.memoryDisplacementU64))) {
        const base = registerFamily(instr.memoryBase);
        if (base && base !== 'SP') read = anyRead = true;
      }
      // A flag argument on the stack (zstd's `test byte [rsp+0x20], 1`, `mov eax, [rsp+0x78]`).
      else if (frame && code !== INVALID && mnemonic !== LEA && hasMemoryOperand(instr)) {
        const slot = frame.argumentSlot(instr);
        if (slot !== undefined && flagArguments!.has(slot)) read = anyRead = true;
      }
      // A flag loaded into a register and tested later (Go hoists `movzx edx, x86HasPOPCNT` out of loops).
      if (pointer) pointers.add(op0);
      else if (op0) pointers.delete(op0);
      // What a getter returns is a flag (OpenSSL's `call rsaz_avx2_eligible; test eax, eax`).
      if (code !== INVALID && isGetter && instr.flowControl === FlowControl.Call && isGetter(Number(instr.nearBranch64))) {
        flags.add('A');
        anyRead = true;
      }
      if (read && op0) flags.add(op0);
      // A flag moved to another register (a flag argument kept across calls in a callee-saved one; libgcrypt's
      // `call _gcry_get_hw_features; mov ecx, eax; …; test ecx, HWF_INTEL_BMI2`).
      else if (op0 && code !== INVALID && (mnemonic === Mnemonic.Mov || mnemonic === Mnemonic.Movzx) && instr.op1Kind === OpKind.Register && flags.has(registerFamily(instr.op1Register))) flags.add(op0);
      else if (op0 && flags.has(op0)) {
        if (mnemonic === Mnemonic.Test || mnemonic === Mnemonic.Cmp || mnemonic === Mnemonic.Bt || mnemonic === Mnemonic.And) read = true;
        else flags.delete(op0);
      }
      reads.push(read);
      const fc = instr.flowControl;
      if (code === INVALID || fc === FlowControl.Return || fc === FlowControl.IndirectBranch || fc === FlowControl.Exception || fc === FlowControl.Interrupt) {
        flow.push(-2);
        targets.push(-1);
      } else if (fc === FlowControl.UnconditionalBranch || fc === FlowControl.ConditionalBranch) {
        const t = Number(instr.nearBranch64);
        flow.push(fc === FlowControl.UnconditionalBranch ? 1 : 2);
        targets.push(t);
        if (t < start || t >= end) out = t;
      } else {
        flow.push(-1);
        targets.push(-1);
        if (fc === FlowControl.Call) {
          const t = Number(instr.nearBranch64);
          if (t && (t < start || t >= end)) out = t;
        }
      }
      outside.push(out);
      if (code !== INVALID) frame?.leave(instr);
    }
  } finally {
    decoder.free();
  }
  if (!anyRead) return undefined;
  const indexOf = new Map<number, number>();
  ips.forEach((ip, i) => indexOf.set(ip, i));
  return { n: ips.length, bits: 64, codes, flow, targets, outside, reads, indexOf };
}

/** The instructions flow can go to next from instruction `i`. */
function successors(code: GuardCode, i: number): number[] {
  const f = code.flow[i]!;
  if (f === -2) return [];
  const s: number[] = [];
  if (f !== 1 && i + 1 < code.n) s.push(i + 1);
  if (f >= 1) {
    const t = code.indexOf.get(code.targets[i]!);
    if (t !== undefined) s.push(t);
  }
  return s;
}

/** What flow reaches from `from`, never taking a blocked successor, never past a guard in `stops` (a guard's sides are told apart without looping back through a test). */
function walkFlow(code: GuardCode, from: number, blocked: ReadonlyMap<number, number>, stops?: ReadonlySet<number>): Uint8Array {
  const seen = new Uint8Array(code.n);
  const stack = [from];
  seen[from] = 1;
  while (stack.length) {
    const i = stack.pop()!;
    if (stops?.has(i)) continue;
    const skip = blocked.get(i);
    for (const s of successors(code, i)) {
      if (seen[s] || s === skip) continue;
      seen[s] = 1;
      stack.push(s);
    }
  }
  return seen;
}

/** The guards: a jcc within GUARD_WINDOW instructions of a flag read, with no branch between (at most 64). */
function findGuards(code: GuardCode): number[] {
  const guards: number[] = [];
  let lastRead = -GUARD_WINDOW - 1;
  for (let i = 0; i < code.n && guards.length < 64; i++) {
    if (code.reads[i]) lastRead = i;
    if (code.flow[i] === 2 && i - lastRead <= GUARD_WINDOW) guards.push(i);
    else if (code.flow[i] !== -1) lastRead = -GUARD_WINDOW - 1;
  }
  return guards;
}

/** Each guard's checked side: of its two successors, the one leading (only from that side) to code needing more than the other's. */
function checkedSides(code: GuardCode, guards: readonly number[], targetLevel: ((address: number) => number) | undefined): Map<number, number> {
  const level = (i: number) => codeInfo(code.codes[i]!, code.bits).level;
  const stops = new Set(guards);
  const checkedSide = new Map<number, number>();
  for (const i of guards) {
    const sides = successors(code, i);
    if (sides.length !== 2 || sides[0] === sides[1]) continue;
    const [a, b] = [walkFlow(code, sides[0]!, new Map(), stops), walkFlow(code, sides[1]!, new Map(), stops)];
    let la = -1;
    let lb = -1;
    // What a side calls or jumps to outside the function counts with it (libgcrypt's `jne → jmp blake2s_transform_avx`).
    const sideLevel = (k: number) => (targetLevel && code.outside[k]! >= 0 ? Math.max(level(k), targetLevel(code.outside[k]!)) : level(k));
    for (let k = 0; k < code.n; k++) {
      if (a[k] && !b[k]) la = Math.max(la, sideLevel(k));
      if (b[k] && !a[k]) lb = Math.max(lb, sideLevel(k));
    }
    if (la > lb && la > 0) checkedSide.set(i, sides[0]!);
    else if (lb > la && lb > 0) checkedSide.set(i, sides[1]!);
  }
  return checkedSide;
}

/** The Codes (with counts and top level) of the instructions whose `open` mark is `want`. */
function tallyPart(code: GuardCode, open: Uint8Array, want: number): GuardSplit['open'] {
  const count = new Map<number, number>();
  let top = -1;
  for (let k = 0; k < code.n; k++) {
    const c = code.codes[k]!;
    if (open[k] !== want || c === INVALID || !codeInfo(c, code.bits).interesting) continue;
    count.set(c, (count.get(c) ?? 0) + 1);
    top = Math.max(top, codeInfo(c, code.bits).level);
  }
  return { codes: [...count.keys()], counts: [...count.values()], level: top };
}
