// What a function passes its callees: at each direct call or tail jump, which argument
// slots (rdi…r9, then the stack) hold a CPU-feature flag — from cpuid or xgetbv, a
// CPU-feature word, a getter, a flag field, or a flag argument of its own — or a constant.
// zstd passes its `bmi2` flag down this way (HUF_readStats_wksp's `flags`, pushed on the stack).
import icedX86 from 'iced-x86';
import { ARGUMENT_REGISTERS, StackFrame } from './frame.js';
import { FLAG_USERS, hasMemoryOperand, registerFamily } from './isa.js';

const { Decoder, DecoderOptions, FlowControl, Instruction, Mnemonic, OpKind, Register } = icedX86;
type IcedInstruction = InstanceType<typeof Instruction>;

export type ArgumentKind = 'flag' | 'zero' | 'constant';

/** Per callee address: how many times it is called, and per slot how often each kind is passed. */
export type CallArguments = Map<number, { calls: number; slots: Map<number, Map<ArgumentKind, number>> }>;

export interface ArgumentSources {
  readonly isCpuWord: (address: number) => boolean;
  readonly isGetter?: (target: number) => boolean;
  /** Displacements of flag fields (only in the pass that takes them as checks). */
  readonly flagFields?: ReadonlySet<number>;
  /** The function's own argument slots that carry a flag. */
  readonly incoming?: ReadonlySet<number>;
}

const CLOBBERED = ['A', 'C', 'D', 'SI', 'DI', 'R8', 'R9', 'R10', 'R11'];
const MOVES = new Set<number>([Mnemonic.Mov, Mnemonic.Movzx, Mnemonic.Movsx, Mnemonic.Movsxd]);
const TESTS = new Set<number>([Mnemonic.Cmp, Mnemonic.Test, Mnemonic.Bt]);
const IMMEDIATES = new Set<number>([OpKind.Immediate8, OpKind.Immediate16, OpKind.Immediate32, OpKind.Immediate64, OpKind.Immediate8to16, OpKind.Immediate8to32, OpKind.Immediate8to64, OpKind.Immediate32to64]);
const MAX_INSTRUCTIONS = 50_000;

/** The kind of what a memory operand holds: a flag when it is a CPU-feature word, a flag field, a flag stack argument, or a local slot only flags are stored in. */
function memoryKind(instr: IcedInstruction, frame: StackFrame, sources: ArgumentSources, spilled: ReadonlySet<number>): ArgumentKind | undefined {
  if (instr.isIpRelMemoryOperand) return sources.isCpuWord(Number(instr.ipRelMemoryAddress)) ? 'flag' : undefined;
  const slot = frame.argumentSlot(instr);
  if (slot !== undefined) return sources.incoming?.has(slot) ? 'flag' : undefined;
  const local = frame.offsetOf(instr);
  if (local !== undefined && local < 0) return spilled.has(local) ? 'flag' : undefined;
  const base = registerFamily(instr.memoryBase);
  if (sources.flagFields?.size && base && base !== 'SP' && instr.memoryIndex === Register.None && sources.flagFields.has(Number(instr.memoryDisplacementU64))) return 'flag';
  return undefined;
}

function immediateKind(instr: IcedInstruction, operand: number): ArgumentKind {
  return instr.immediate(operand) === 0n ? 'zero' : 'constant';
}

/**
 * The callees' argument kinds at every direct call and tail jump of the function at `start`.
 * A flag spilled to the function's own frame and reloaded before a call (zstd keeps `bmi2` in
 * a local slot of its super-block compressor) is a flag where every store to that slot is one:
 * a second look with those slots, when the first saw any.
 */
export function callArguments(bytes: Uint8Array, start: number, bits: 32 | 64, sources: ArgumentSources): CallArguments {
  if (bits !== 64) return new Map();
  const first = scanCalls(bytes, start, bits, sources, new Set());
  const spilled = new Set([...first.localStores].filter(([, onlyFlags]) => onlyFlags).map(([at]) => at));
  return spilled.size ? scanCalls(bytes, start, bits, sources, spilled).out : first.out;
}

function scanCalls(bytes: Uint8Array, start: number, bits: 64, sources: ArgumentSources, spilled: ReadonlySet<number>): { out: CallArguments; localStores: Map<number, boolean> } {
  const scan = new CallScan(start, start + bytes.length, sources, spilled);
  const instr = new Instruction();
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    for (let n = 0; decoder.canDecode && n < MAX_INSTRUCTIONS; n++) {
      decoder.decodeOut(instr);
      scan.step(instr);
    }
  } finally {
    decoder.free();
    instr.free();
  }
  return { out: scan.out, localStores: scan.localStores };
}

/** The state of one walk through a function in address order: what each register and each stack slot being laid out holds. */
class CallScan {
  readonly out: CallArguments = new Map();
  /** Per local slot (below the return address): whether every store to it stored a flag. */
  readonly localStores = new Map<number, boolean>();
  readonly #registers = new Map<string, ArgumentKind>();
  /** What is stored at each offset above the current rsp (arguments being laid out). */
  #stack = new Map<number, ArgumentKind>();
  #flagsTainted = false;
  readonly #frame = new StackFrame();
  readonly #carried = new Map<number, Map<string, ArgumentKind>>();

  constructor(
    private readonly start: number,
    private readonly end: number,
    private readonly sources: ArgumentSources,
    private readonly spilled: ReadonlySet<number>,
  ) {
    ARGUMENT_REGISTERS.forEach((r, slot) => sources.incoming?.has(slot) && this.#registers.set(r, 'flag'));
  }

  step(instr: IcedInstruction): void {
    if (instr.code === 0) {
      this.#registers.clear();
      this.#flagsTainted = false;
      return;
    }
    this.#frame.enter(instr);
    this.#carry(instr);
    const mnemonic = instr.mnemonic;
    const fc = instr.flowControl;
    const op0 = instr.opCount > 0 && instr.op0Kind === OpKind.Register ? registerFamily(instr.op0Register) : '';
    if (mnemonic === Mnemonic.Cpuid) for (const r of ['A', 'B', 'C', 'D']) this.#registers.set(r, 'flag');
    else if (mnemonic === Mnemonic.Xgetbv) for (const r of ['A', 'D']) this.#registers.set(r, 'flag');
    else if (fc === FlowControl.Call) this.#call(Number(instr.nearBranch64));
    else if (fc === FlowControl.UnconditionalBranch || fc === FlowControl.Return || fc === FlowControl.IndirectBranch || fc === FlowControl.IndirectCall || fc === FlowControl.Exception || fc === FlowControl.Interrupt) this.#leave(instr);
    else if (mnemonic === Mnemonic.Push) this.#push(instr, op0);
    else if (mnemonic === Mnemonic.Pop) {
      this.#shift(-8);
      if (op0) this.#registers.delete(op0);
    } else if (op0 === 'SP') this.#moveStackPointer(instr);
    else if (TESTS.has(mnemonic)) this.#test(instr);
    else if (instr.opCount > 0 && instr.op0Kind === OpKind.Memory) this.#store(instr);
    else if (op0) this.#write(instr, op0);
    this.#frame.leave(instr);
  }

  #memoryKind(instr: IcedInstruction): ArgumentKind | undefined {
    return memoryKind(instr, this.#frame, this.sources, this.spilled);
  }

  #kindOf(instr: IcedInstruction, operand: number): ArgumentKind | undefined {
    const kind = instr.opKind(operand);
    if (kind === OpKind.Register) return this.#registers.get(registerFamily(instr.opRegister(operand)));
    if (IMMEDIATES.has(kind)) return immediateKind(instr, operand);
    return undefined;
  }

  /** What a forward jump carried here (zstd computes its flags, then jumps to the call), and what this jump carries on. */
  #carry(instr: IcedInstruction): void {
    const here = this.#carried.get(Number(instr.ip));
    if (here) for (const [r, kind] of here) if (!this.#registers.has(r)) this.#registers.set(r, kind);
    const fc = instr.flowControl;
    if (fc !== FlowControl.ConditionalBranch && fc !== FlowControl.UnconditionalBranch) return;
    const target = Number(instr.nearBranch64);
    if (target <= Number(instr.ip) || target >= this.end || !this.#registers.size) return;
    let at = this.#carried.get(target);
    if (!at) this.#carried.set(target, (at = new Map()));
    for (const [r, kind] of this.#registers) if (!at.has(r) || kind === 'flag') at.set(r, kind);
  }

  #shift(by: number): void {
    const moved = new Map<number, ArgumentKind>();
    for (const [at, kind] of this.#stack) if (at + by >= 0) moved.set(at + by, kind);
    this.#stack = moved;
  }

  #record(target: number): void {
    let entry = this.out.get(target);
    if (!entry) this.out.set(target, (entry = { calls: 0, slots: new Map() }));
    entry.calls++;
    const pass = (slot: number, kind: ArgumentKind | undefined) => {
      if (!kind) return;
      let counts = entry!.slots.get(slot);
      if (!counts) entry!.slots.set(slot, (counts = new Map()));
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    };
    ARGUMENT_REGISTERS.forEach((r, slot) => pass(slot, this.#registers.get(r)));
    for (const [at, kind] of this.#stack) if (at % 8 === 0) pass(6 + at / 8, kind);
  }

  #call(target: number): void {
    if (target) this.#record(target);
    for (const r of CLOBBERED) this.#registers.delete(r);
    this.#flagsTainted = false;
    if (this.sources.isGetter?.(target)) this.#registers.set('A', 'flag');
  }

  /** The flow leaves: a jump out of the function is a tail call, rsp standing where it stood on entry, the stack arguments above the return address. */
  #leave(instr: IcedInstruction): void {
    if (instr.flowControl === FlowControl.UnconditionalBranch) {
      const target = Number(instr.nearBranch64);
      if (target < this.start || target >= this.end) {
        this.#shift(-8);
        this.#record(target);
      }
    }
    this.#registers.clear();
    this.#stack.clear();
    this.#flagsTainted = false;
  }

  #push(instr: IcedInstruction, op0: string): void {
    const kind = instr.op0Kind === OpKind.Register ? this.#registers.get(op0) : IMMEDIATES.has(instr.op0Kind) ? immediateKind(instr, 0) : this.#memoryKind(instr);
    this.#shift(8);
    if (kind) this.#stack.set(0, kind);
  }

  #moveStackPointer(instr: IcedInstruction): void {
    const mnemonic = instr.mnemonic;
    if (instr.opCount === 2 && IMMEDIATES.has(instr.op1Kind) && (mnemonic === Mnemonic.Sub || mnemonic === Mnemonic.Add)) {
      const by = Number(BigInt.asIntN(64, instr.immediate(1)));
      this.#shift(mnemonic === Mnemonic.Sub ? by : -by);
    } else this.#stack.clear();
  }

  #test(instr: IcedInstruction): void {
    this.#flagsTainted = false;
    for (let k = 0; k < instr.opCount; k++) {
      const kind = instr.opKind(k);
      if (kind === OpKind.Register && this.#registers.get(registerFamily(instr.opRegister(k))) === 'flag') this.#flagsTainted = true;
      else if (kind === OpKind.Memory && this.#memoryKind(instr) === 'flag') this.#flagsTainted = true;
    }
  }

  /** A store: to a stack slot below the arguments being laid out (mov [rsp+8], reg before a call), or to a local slot. */
  #store(instr: IcedInstruction): void {
    const kind = instr.opCount === 2 ? this.#kindOf(instr, 1) : undefined;
    if (instr.memoryBase === Register.RSP && instr.memoryIndex === Register.None && instr.opCount === 2) {
      const at = Number(BigInt.asIntN(64, instr.memoryDisplacementU64));
      if (kind) this.#stack.set(at, kind);
      else this.#stack.delete(at);
    }
    const local = this.#frame.offsetOf(instr);
    if (local !== undefined && local < 0) this.localStores.set(local, (this.localStores.get(local) ?? true) && kind === 'flag');
    this.#flagsTainted = false;
  }

  /** A register written: a zero, a move of what the source holds, or arithmetic, setcc, cmovcc (a flag in, a flag out). */
  #write(instr: IcedInstruction, op0: string): void {
    const mnemonic = instr.mnemonic;
    let kind: ArgumentKind | undefined;
    const self = instr.opCount === 2 && instr.op1Kind === OpKind.Register && registerFamily(instr.op1Register) === op0;
    if ((mnemonic === Mnemonic.Xor || mnemonic === Mnemonic.Sub) && self) kind = 'zero';
    else if (MOVES.has(mnemonic) && instr.opCount === 2) kind = hasMemoryOperand(instr) && instr.op1Kind === OpKind.Memory ? this.#memoryKind(instr) : this.#kindOf(instr, 1);
    else {
      let flag: boolean = this.#registers.get(op0) === 'flag' || (this.#flagsTainted && FLAG_USERS.has(mnemonic));
      for (let k = 1; k < instr.opCount; k++) {
        const kk = instr.opKind(k);
        if (kk === OpKind.Register && this.#registers.get(registerFamily(instr.opRegister(k))) === 'flag') flag = true;
        else if (kk === OpKind.Memory && this.#memoryKind(instr) === 'flag') flag = true;
      }
      kind = flag ? 'flag' : undefined;
      this.#flagsTainted = flag && (mnemonic === Mnemonic.And || mnemonic === Mnemonic.Or || mnemonic === Mnemonic.Shr || mnemonic === Mnemonic.Sar);
    }
    if (kind) this.#registers.set(op0, kind);
    else this.#registers.delete(op0);
  }
}
