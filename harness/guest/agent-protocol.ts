// The wire format of levelgate-agent (harness/image/guest/agent.c), as pure functions:
// requests are encoded to frames, the guest's byte stream is decoded into frames.

export interface ExecRequest {
  readonly argv: readonly string[];
  /** 0: no limit in the guest (the host still bounds the wait). */
  readonly timeoutMs: number;
  /** Variables added to the guest's base environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  readonly input: Buffer;
}

export type AgentFrame =
  | { readonly type: 'ready'; readonly banner: string }
  | { readonly type: 'stdout'; readonly data: Buffer }
  | { readonly type: 'stderr'; readonly data: Buffer }
  | { readonly type: 'done'; readonly exit: ExitFrame }
  | { readonly type: 'poweroff' }
  | { readonly type: 'thawed'; readonly cpuinfo: string };

export interface ExitFrame {
  /** null when the process was killed by a signal. */
  readonly exitCode: number | null;
  /** Signal number, 0 when none. */
  readonly signal: number;
  readonly timedOut: boolean;
  readonly killed: boolean;
  readonly spawnFailed: boolean;
  readonly durationNs: bigint;
}

const REQUEST_MAGIC = Buffer.from('LGQ');
const REPLY_MAGIC = Buffer.from('LGA');
const MAX_FRAME = 64 * 1024 * 1024;

function frame(type: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  REQUEST_MAGIC.copy(header, 0);
  header.write(type, 3, 'latin1');
  header.writeUInt32LE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value, 0);
  return b;
}

function lengthPrefixed(value: string | Buffer): Buffer[] {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return [u32(bytes.length), bytes];
}

export function encodeExec(request: ExecRequest): Buffer {
  if (request.argv.length === 0) throw new Error('encodeExec: argv is empty');
  for (const arg of request.argv) {
    if (arg.includes('\0')) throw new Error(`encodeExec: argument contains a NUL byte: ${JSON.stringify(arg)}`);
  }
  const env = Object.entries(request.env).map(([k, v]) => `${k}=${v}`);
  const parts = [
    u32(Math.max(0, Math.round(request.timeoutMs))),
    u32(request.argv.length),
    ...request.argv.flatMap((a) => lengthPrefixed(a)),
    u32(env.length),
    ...env.flatMap((e) => lengthPrefixed(e)),
    ...lengthPrefixed(request.cwd),
    ...lengthPrefixed(request.input),
  ];
  const payload = Buffer.concat(parts);
  if (payload.length > MAX_FRAME) throw new Error(`encodeExec: request of ${payload.length} bytes exceeds ${MAX_FRAME}`);
  return frame('X', payload);
}

export const encodeKill = (): Buffer => frame('K', Buffer.alloc(0));
/** After a snapshot restore: the host's time (ns since the epoch) and fresh entropy for the guest. */
export function encodeThaw(realtimeNs: bigint, entropy: Buffer): Buffer {
  const time = Buffer.alloc(8);
  time.writeBigUInt64LE(realtimeNs, 0);
  return frame('T', Buffer.concat([time, entropy]));
}
export const encodePowerOff = (): Buffer => frame('P', Buffer.alloc(0));

function decodeExit(payload: Buffer): ExitFrame {
  if (payload.length < 20) throw new Error(`agent protocol: done frame of ${payload.length} bytes, expected 20`);
  const code = payload.readInt32LE(0);
  const flags = payload.readUInt32LE(8);
  return {
    exitCode: code < 0 ? null : code,
    signal: payload.readInt32LE(4),
    timedOut: (flags & 1) !== 0,
    killed: (flags & 2) !== 0,
    spawnFailed: (flags & 4) !== 0,
    durationNs: payload.readBigUInt64LE(12),
  };
}

/** Turns the guest's byte stream into frames; bytes before a frame's magic are noise and skipped. */
export class FrameDecoder {
  #buffer: Buffer = Buffer.alloc(0);
  /** Bytes skipped as noise, for diagnostics. */
  skipped = 0;

  push(chunk: Buffer): AgentFrame[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const frames: AgentFrame[] = [];
    for (;;) {
      const at = this.#buffer.indexOf(REPLY_MAGIC);
      if (at < 0) {
        const keep = Math.min(this.#buffer.length, REPLY_MAGIC.length - 1);
        this.skipped += this.#buffer.length - keep;
        this.#buffer = this.#buffer.subarray(this.#buffer.length - keep);
        return frames;
      }
      if (at > 0) {
        this.skipped += at;
        this.#buffer = this.#buffer.subarray(at);
      }
      if (this.#buffer.length < 8) return frames;
      const length = this.#buffer.readUInt32LE(4);
      if (length > MAX_FRAME) {
        this.skipped += REPLY_MAGIC.length;
        this.#buffer = this.#buffer.subarray(REPLY_MAGIC.length);
        continue;
      }
      if (this.#buffer.length < 8 + length) return frames;
      const type = String.fromCharCode(this.#buffer[3]!);
      const payload = Buffer.from(this.#buffer.subarray(8, 8 + length));
      this.#buffer = this.#buffer.subarray(8 + length);
      switch (type) {
        case 'R':
          frames.push({ type: 'ready', banner: payload.toString('utf8') });
          break;
        case 'O':
          frames.push({ type: 'stdout', data: payload });
          break;
        case 'E':
          frames.push({ type: 'stderr', data: payload });
          break;
        case 'D':
          frames.push({ type: 'done', exit: decodeExit(payload) });
          break;
        case 'P':
          frames.push({ type: 'poweroff' });
          break;
        case 'T':
          frames.push({ type: 'thawed', cpuinfo: payload.toString('utf8') });
          break;
        default:
          this.skipped += 8 + length;
      }
    }
  }
}
