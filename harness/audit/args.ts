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
  const out: CallArguments = new Map();
  /** Per local slot (below the return address): whether every store to it stored a flag. */
  const localStores = new Map<number, boolean>();
  const instr = new Instruction();
  const registers = new Map<string, ArgumentKind>();
  ARGUMENT_REGISTERS.forEach((r, slot) => sources.incoming?.has(slot) && registers.set(r, 'flag'));
  /** What is stored at each offset above the current rsp (arguments being laid out). */
  let stack = new Map<number, ArgumentKind>();
  const shift = (by: number) => {
    const moved = new Map<number, ArgumentKind>();
    for (const [at, kind] of stack) if (at + by >= 0) moved.set(at + by, kind);
    stack = moved;
  };
  let flagsTainted = false;
  const frame = new StackFrame();
  const end = start + bytes.length;
  const carried = new Map<number, Map<string, ArgumentKind>>();
  const record = (target: number) => {
    let entry = out.get(target);
    if (!entry) out.set(target, (entry = { calls: 0, slots: new Map() }));
    entry.calls++;
    const pass = (slot: number, kind: ArgumentKind | undefined) => {
      if (!kind) return;
      let counts = entry!.slots.get(slot);
      if (!counts) entry!.slots.set(slot, (counts = new Map()));
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    };
    ARGUMENT_REGISTERS.forEach((r, slot) => pass(slot, registers.get(r)));
    for (const [at, kind] of stack) if (at % 8 === 0) pass(6 + at / 8, kind);
  };
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  try {
    decoder.ip = BigInt(start);
    for (let n = 0; decoder.canDecode && n < MAX_INSTRUCTIONS; n++) {
      decoder.decodeOut(instr);
      if (instr.code === 0) {
        registers.clear();
        flagsTainted = false;
        continue;
      }
      frame.enter(instr);
      // What a forward jump carried here (zstd computes its flags, then jumps to the call).
      const here = carried.get(Number(instr.ip));
      if (here) for (const [r, kind] of here) if (!registers.has(r)) registers.set(r, kind);
      const mnemonic = instr.mnemonic;
      const fc = instr.flowControl;
      if (fc === FlowControl.ConditionalBranch || fc === FlowControl.UnconditionalBranch) {
        const target = Number(instr.nearBranch64);
        if (target > Number(instr.ip) && target < end && registers.size) {
          let at = carried.get(target);
          if (!at) carried.set(target, (at = new Map()));
          for (const [r, kind] of registers) if (!at.has(r) || kind === 'flag') at.set(r, kind);
        }
      }
      const op0 = instr.opCount > 0 && instr.op0Kind === OpKind.Register ? registerFamily(instr.op0Register) : '';
      
      if (mnemonic === Mnemonic.Cpuid) for (const r of ['A', 'B', 'C', 'D']) registers.set(r, 'flag');
      else if (mnemonic === Mnemonic.Xgetbv) for (const r of ['A', 'D']) registers.set(r, 'flag');
      else if (fc === FlowControl.Call) {
        const target = Number(instr.nearBranch64);
        if (target) record(target);
        for (const r of CLOBBERED) registers.delete(r);
        flagsTainted = false;
        if (sources.isGetter?.(target)) registers.set('A', 'flag');
      } else if (fc === FlowControl.UnconditionalBranch) {
        const target = Number(instr.nearBranch64);
        // A tail call: rsp stands where it stood on entry, the stack arguments above the return address.
        if (target < start || target >= end) {
          shift(-8);
          record(target);
        }
        registers.clear();
        stack.clear();
        flagsTainted = false;
      } else if (fc === FlowControl.Return || fc === FlowControl.IndirectBranch || fc === FlowControl.IndirectCall || fc === FlowControl.Exception || fc === FlowControl.Interrupt) {
        registers.clear();
        stack.clear();
        flagsTainted = false;
      } else if (mnemonic === Mnemonic.Push) {
        const kind = instr.op0Kind === OpKind.Register ? registers.get(op0) : IMMEDIATES.has(instr.op0Kind) ? immediateKind(instr, 0) : memoryKind(instr, frame, sources, spilled);
        shift(8);
        if (kind) stack.set(0, kind);
      } else if (mnemonic === Mnemonic.Pop) {
        shift(-8);
        if (op0) registers.delete(op0);
      } else if (op0 === 'SP') {
        if (instr.opCount === 2 && IMMEDIATES.has(instr.op1Kind) && (mnemonic === Mnemonic.Sub || mnemonic === Mnemonic.Add)) {
          const by = Number(BigInt.asIntN(64, instr.immediate(1)));
          shift(mnemonic === Mnemonic.Sub ? by : -by);
        } else stack.clear();
      } else if (TESTS.has(mnemonic)) {
        flagsTainted = false;
        for (let k = 0; k < instr.opCount; k++) {
          const kind = instr.opKind(k);
          if (kind === OpKind.Register && registers.get(registerFamily(instr.opRegister(k))) === 'flag') flagsTainted = true;
          else if (kind === OpKind.Memory && memoryKind(instr, frame, sources, spilled) === 'flag') flagsTainted = true;
        }
      } else if (instr.opCount > 0 && instr.op0Kind === OpKind.Memory) {
        // A store: to a stack slot below the arguments being laid out (mov [rsp+8], reg before a call).
        const kind = instr.opCount === 2 ? (instr.op1Kind === OpKind.Register ? registers.get(registerFamily(instr.op1Register)) : IMMEDIATES.has(instr.op1Kind) ? immediateKind(instr, 1) : undefined) : undefined;
        if (instr.memoryBase === Register.RSP && instr.memoryIndex === Register.None && instr.opCount === 2) {
          const at = Number(BigInt.asIntN(64, instr.memoryDisplacementU64));
          if (kind) stack.set(at, kind);
          else stack.delete(at);
        }
        const local = frame.offsetOf(instr);
        if (local !== undefined && local < 0) localStores.set(local, (localStores.get(local) ?? true) && kind === 'flag');
        flagsTainted = false;
      } else if (op0) {
        let kind: ArgumentKind | undefined;
        const self = instr.opCount === 2 && instr.op1Kind === OpKind.Register && registerFamily(instr.op1Register) === op0;
        if ((mnemonic === Mnemonic.Xor || mnemonic === Mnemonic.Sub) && self) kind = 'zero';
        else if (MOVES.has(mnemonic) && instr.opCount === 2) {
          if (instr.op1Kind === OpKind.Register) kind = registers.get(registerFamily(instr.op1Register));
          else if (IMMEDIATES.has(instr.op1Kind)) kind = immediateKind(instr, 1);
          else if (hasMemoryOperand(instr)) kind = memoryKind(instr, frame, sources, spilled);
        } else {
          // Arithmetic, setcc, cmovcc: a flag in, a flag out.
          let flag: boolean = registers.get(op0) === 'flag' || (flagsTainted && FLAG_USERS.has(mnemonic));
          for (let k = 1; k < instr.opCount; k++) {
            const kk = instr.opKind(k);
            if (kk === OpKind.Register && registers.get(registerFamily(instr.opRegister(k))) === 'flag') flag = true;
            else if (kk === OpKind.Memory && memoryKind(instr, frame, sources, spilled) === 'flag') flag = true;
          }
          kind = flag ? 'flag' : undefined;
          flagsTainted = flag && (mnemonic === Mnemonic.And || mnemonic === Mnemonic.Or || mnemonic === Mnemonic.Shr || mnemonic === Mnemonic.Sar);
        }
        if (kind) registers.set(op0, kind);
        else registers.delete(op0);
      }
      frame.leave(instr);
    }
  } finally {
    decoder.free();
    instr.free();
  }
  return { out, localStores };
}
