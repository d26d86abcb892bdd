// Where the stack pointer stands inside a function, so a read of [rsp+d] (or [rbp+d] past
// `mov rbp, rsp`) can be named as one of the function's stack arguments. Followed in
// address order; a forward jump carries its depth to its target, so code after a return
// (the body past an early epilogue) starts at the depth of the jump that leads there.
import icedX86 from 'iced-x86';

const { FlowControl, Mnemonic, OpKind, Register } = icedX86;
type IcedInstruction = InstanceType<typeof icedX86.Instruction>;

const PADDING = new Set<number>([Mnemonic.Nop, Mnemonic.Int3, Mnemonic.Ud2]);

/** System V: the first six integer arguments in registers (slots 0–5), then on the stack (slot 6 at [rsp+8] on entry). */
export const ARGUMENT_REGISTERS = ['DI', 'SI', 'D', 'C', 'R8', 'R9'] as const;

export class StackFrame {
  /** How far rsp stands below its value on entry (the return address at [rsp] then). */
  #depth = 0;
  /** rbp's depth when it was set from rsp; undefined otherwise. */
  #base: number | undefined;
  #ended = false;
  readonly #at = new Map<number, number>();

  /** Call before looking at an instruction's operands: settles the depth after a return or jump. */
  enter(instr: IcedInstruction): void {
    if (!this.#ended) return;
    const known = this.#at.get(Number(instr.ip));
    if (known !== undefined) this.#depth = known;
    // Alignment padding after a return or jump (nop, int3) is never run: the code after it
    // starts at the depth of the jump that leads there (zstd's body past `ret; cs nop`).
    else if (PADDING.has(instr.mnemonic)) return;
    this.#ended = false;
  }

  /** Where a memory operand of `instr` through rsp (or rbp past `mov rbp, rsp`) points, from rsp's value on entry: negative in the function's own frame. */
  offsetOf(instr: IcedInstruction): number | undefined {
    const base = instr.memoryBase;
    if (instr.memoryIndex !== Register.None) return undefined;
    const displacement = Number(BigInt.asIntN(64, instr.memoryDisplacementU64));
    if (base === Register.RSP) return displacement - this.#depth;
    if (base === Register.RBP && this.#base !== undefined) return displacement - this.#base;
    return undefined;
  }

  /** The argument slot (6, 7, …) a memory operand of `instr` names, if it reads one of the function's stack arguments. */
  argumentSlot(instr: IcedInstruction): number | undefined {
    const fromEntry = this.offsetOf(instr);
    if (fromEntry === undefined || fromEntry < 8 || fromEntry % 8) return undefined;
    return 6 + (fromEntry - 8) / 8;
  }

  /** Call after the instruction: follows push, pop, sub/add rsp, mov rbp, rsp, and the flow. */
  leave(instr: IcedInstruction): void {
    const mnemonic = instr.mnemonic;
    const op0 = instr.opCount > 0 && instr.op0Kind === OpKind.Register ? instr.op0Register : Register.None;
    if (mnemonic === Mnemonic.Push) this.#depth += 8;
    else if (mnemonic === Mnemonic.Pop) this.#depth -= 8;
    else if (op0 === Register.RSP && (mnemonic === Mnemonic.Sub || mnemonic === Mnemonic.Add) && instr.opCount === 2 && instr.op1Kind !== OpKind.Register && instr.op1Kind !== OpKind.Memory) {
      const value = Number(BigInt.asIntN(64, instr.immediate(1)));
      this.#depth += mnemonic === Mnemonic.Sub ? value : -value;
    } else if (op0 === Register.RBP && mnemonic === Mnemonic.Mov && instr.op1Kind === OpKind.Register && instr.op1Register === Register.RSP) this.#base = this.#depth;
    const fc = instr.flowControl;
    if (fc === FlowControl.ConditionalBranch || fc === FlowControl.UnconditionalBranch) {
      const target = Number(instr.nearBranch64);
      if (target > Number(instr.ip) && !this.#at.has(target)) this.#at.set(target, this.#depth);
    }
    if (fc === FlowControl.Return || fc === FlowControl.UnconditionalBranch || fc === FlowControl.IndirectBranch) this.#ended = true;
  }
}
