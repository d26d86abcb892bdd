// Which address loads of a function only compare the address: OpenSSL's `lea rax,
// [rip+gcm_ghash_avx]; cmp [rbx+0x268], rax` asks which GHASH a context holds, it does not
// call it. Decided by the liveness of the register the address is loaded into.
import icedX86 from 'iced-x86';
import { registerFamily } from './isa.js';

const { Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register } = icedX86;

/** System V's argument registers: a value in one of them at a call is passed on. */
const ARGUMENTS = new Set(['DI', 'SI', 'D', 'C', 'R8', 'R9']);
/** Registers a call may clobber: a value there is dead after it. */
const CLOBBERED = new Set(['A', 'C', 'D', 'SI', 'DI', 'R8', 'R9', 'R10', 'R11']);
const COMPARES = new Set<number>([Mnemonic.Cmp, Mnemonic.Test]);
const MAX_INSTRUCTIONS = 50_000;
const REGISTER_NAMES: string[] = [];
for (const [name, value] of Object.entries(Register)) if (typeof value === 'number') REGISTER_NAMES[value] = name;
/** A write to a 32- or 64-bit register replaces all of it (a 32-bit write zero-extends). */
const fullWidth = (register: number) => /^(R[A-Z]{2}|E[A-Z]{2}|R\d+D?)$/.test(REGISTER_NAMES[register] ?? '');
/** AL, SIL, R8L, …: the low byte alone (not AH). */
const lowByte = (register: number) => /^([ABCD]L|SIL|DIL|BPL|SPL|R\d+L)$/.test(REGISTER_NAMES[register] ?? '');

/** One instruction, as the liveness walk needs it. */
interface Step {
  readonly ip: number;
  /** -2 ends the flow (ret, ud2), -3 escapes (indirect branch, undecodable); 0 falls through; 1 jmp; 2 jcc; 3 call. */
  readonly flow: number;
  readonly target: number;
  /** Register families read other than as a plain operand of cmp/test, at 16 bits or more. */
  readonly uses: ReadonlySet<string>;
  /** Register families whose low byte alone is read (`movzx eax, al`). */
  readonly byteUses: ReadonlySet<string>;
  /** Register families fully overwritten. */
  readonly kills: ReadonlySet<string>;
  /** Register families whose low byte alone is written (`sete al`): that byte no longer holds the address. */
  readonly byteWrites: ReadonlySet<string>;
  /** An address load: [register family, address] (RIP-relative lea, or mov of an immediate in a non-PIE file). */
  readonly load?: readonly [string, number];
}

const NONE: ReadonlySet<string> = new Set();

function decodeSteps(bytes: Uint8Array, start: number, bits: 32 | 64, wanted: (address: number) => boolean): Step[] {
  const instr = new Instruction();
  const factory = new InstructionInfoFactory();
  const decoder = new Decoder(bits, bytes, DecoderOptions.None);
  const steps: Step[] = [];
  try {
    decoder.ip = BigInt(start);
    while (decoder.canDecode && steps.length < MAX_INSTRUCTIONS) {
      decoder.decodeOut(instr);
      const ip = Number(instr.ip);
      if (instr.code === 0) {
        steps.push({ ip, flow: -3, target: -1, uses: NONE, byteUses: NONE, kills: NONE, byteWrites: NONE });
        continue;
      }
      const uses = new Set<string>();
      const byteUses = new Set<string>();
      const kills = new Set<string>();
      const byteWrites = new Set<string>();
      // Plain register operands of cmp/test only compare; their memory operands' registers are dereferenced.
      const compared = new Set<number>();
      if (COMPARES.has(instr.mnemonic)) for (let k = 0; k < instr.opCount; k++) if (instr.opKind(k) === OpKind.Register) compared.add(instr.opRegister(k));
      const info = factory.info(instr);
      for (const used of info.usedRegisters()) {
        const family = registerFamily(used.register);
        const access = used.access;
        if (family) {
          if (access === OpAccess.Write) {
            if (fullWidth(used.register)) kills.add(family);
            else if (lowByte(used.register)) byteWrites.add(family);
          } else if (access !== OpAccess.CondWrite && access !== OpAccess.None && access !== OpAccess.NoMemAccess && !compared.has(used.register)) (lowByte(used.register) ? byteUses : uses).add(family);
        }
        used.free();
      }
      for (const m of info.usedMemory()) m.free();
      info.free();
      const fc = instr.flowControl;
      let flow = 0;
      let target = -1;
      if (fc === FlowControl.Return || fc === FlowControl.Exception || fc === FlowControl.Interrupt) flow = -2;
      else if (fc === FlowControl.IndirectBranch) flow = -3;
      else if (fc === FlowControl.UnconditionalBranch || fc === FlowControl.ConditionalBranch) {
        flow = fc === FlowControl.UnconditionalBranch ? 1 : 2;
        target = Number(instr.nearBranch64);
      } else if (fc === FlowControl.Call || fc === FlowControl.IndirectCall) flow = 3;
      let load: [string, number] | undefined;
      const op0 = instr.opCount > 0 && instr.op0Kind === OpKind.Register ? registerFamily(instr.op0Register) : '';
      if (op0 && instr.mnemonic === Mnemonic.Lea && instr.isIpRelMemoryOperand) load = [op0, Number(instr.ipRelMemoryAddress)];
      else if (op0 && instr.mnemonic === Mnemonic.Mov && instr.opCount === 2 && instr.op1Kind === OpKind.Immediate32) load = [op0, instr.immediate32];
      steps.push({ ip, flow, target, uses, byteUses, kills, byteWrites, ...(load && wanted(load[1]) ? { load } : {}) });
    }
  } finally {
    decoder.free();
    factory.free();
    instr.free();
  }
  return steps;
}

/**
 * For each address the function loads (RIP-relative lea, or an immediate moved into a
 * register) that `wanted` picks: true when every path from every such load reads the
 * register only as a plain operand of cmp or test before it is overwritten or dies at
 * a call (a caller-saved register) or a return (not the return value); false when the
 * address may be used otherwise (stored, moved, called, passed, returned, or the flow
 * is lost in an indirect jump). A compared address is no call: it is not an edge.
 */
export function comparedLoads(bytes: Uint8Array, start: number, bits: 32 | 64, wanted: (address: number) => boolean): Map<number, boolean> {
  const steps = decodeSteps(bytes, start, bits, wanted);
  const end = start + bytes.length;
  const indexOf = new Map<number, number>();
  steps.forEach((s, i) => indexOf.set(s.ip, i));
  const out = new Map<number, boolean>();
  steps.forEach((s, at) => {
    if (!s.load) return;
    const [register, address] = s.load;
    const onlyCompared = out.get(address) !== false && walk(steps, at, register, start, end, indexOf);
    out.set(address, onlyCompared);
  });
  return out;
}

/** Whether the value `register` holds after steps[from] is only compared on every path. */
function walk(steps: readonly Step[], from: number, register: string, start: number, end: number, indexOf: ReadonlyMap<number, number>): boolean {
  // A state is an instruction and whether the register's low byte was overwritten since the load (`sete al`).
  const seen = new Uint8Array(steps.length * 2);
  const stack: [number, number][] = [[from + 1, 0]];
  const outside = (t: number) => t < start || t >= end;
  while (stack.length) {
    const [i, written] = stack.pop()!;
    if (i >= steps.length) return false; // runs off the function's end: unknown
    if (seen[i * 2 + written]) continue;
    seen[i * 2 + written] = 1;
    const s = steps[i]!;
    if (s.flow === -3 || s.uses.has(register) || (s.byteUses.has(register) && !written)) return false;
    const next = s.byteWrites.has(register) ? 1 : written;
    if (s.flow === 3) {
      if (ARGUMENTS.has(register)) return false;
      if (CLOBBERED.has(register)) continue;
    }
    if (s.flow === -2) {
      if (register === 'A' || register === 'D') return false;
      continue;
    }
    if (s.kills.has(register)) continue;
    if (s.flow === 1 || s.flow === 2) {
      if (outside(s.target)) {
        // A jump out of the function (a tail call) passes the argument registers on.
        if (ARGUMENTS.has(register) || register === 'A') return false;
      } else {
        const t = indexOf.get(s.target);
        if (t === undefined) return false;
        stack.push([t, next]);
      }
      if (s.flow === 1) continue;
    }
    stack.push([i + 1, next]);
  }
  return true;
}

/** A function as dropComparedLoads sees it: its level, the nodes whose address it loads, its bytes. */
interface LoadingNode {
  readonly level: number;
  loads: number[];
}

/**
 * Drops from each function's loads the functions whose address it only compares, where
 * that matters: a load of code leading (`reach`) to more than the loader needs itself.
 * Returns how many loads it dropped.
 */
export function dropComparedLoads(
  nodes: readonly LoadingNode[],
  pieces: readonly { readonly bytes: Uint8Array; readonly start: number }[],
  nodeAt: (address: number) => number,
  reach: readonly number[],
  bits: 32 | 64,
): number {
  let dropped = 0;
  nodes.forEach((n, i) => {
    const floor = Math.max(0, n.level);
    const higher = new Set(n.loads.filter((t) => reach[t]! > floor));
    if (!higher.size) return;
    const { bytes, start } = pieces[i]!;
    const loads = comparedLoads(bytes, start, bits, (a) => higher.has(nodeAt(a)));
    // A node stays loaded when any load of an address inside it may be used otherwise.
    const kept = new Set<number>();
    for (const [address, compared] of loads) if (!compared) kept.add(nodeAt(address));
    const gone = new Set([...loads.keys()].map(nodeAt).filter((t) => !kept.has(t)));
    if (!gone.size) return;
    n.loads = n.loads.filter((t) => !gone.has(t));
    dropped += gone.size;
  });
  return dropped;
}
