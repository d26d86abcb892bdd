// The guest's serial console: written to a log file as it arrives, kept as a tail for
// error messages, and watched line by line for evidence that ends a guest's work early
// (an illegal instruction, a panic, a failed boot).
import { createWriteStream, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';

export type ConsoleEventKind = 'illegal-instruction' | 'kernel-panic' | 'kernel-oops' | 'cpu-level-fatal' | 'boot-failed';

export interface ConsoleEvent {
  readonly kind: ConsoleEventKind;
  readonly line: string;
  /** Milliseconds since the guest started. */
  readonly atMs: number;
}

const PATTERNS: readonly { kind: ConsoleEventKind; pattern: RegExp }[] = [
  // "traps: prog[123] trap invalid opcode ip:... sp:... error:0 in prog[...]"
  { kind: 'illegal-instruction', pattern: /trap invalid opcode/ },
  { kind: 'kernel-panic', pattern: /Kernel panic - not syncing/ },
  { kind: 'kernel-oops', pattern: /\b(BUG: |Oops: |general protection fault)/ },
  // glibc built for a higher level than the CPU stops every program with this.
  { kind: 'cpu-level-fatal', pattern: /Fatal glibc error: CPU does not support x86-64-v\d/ },
  { kind: 'boot-failed', pattern: /levelgate: BOOT FAILED: / },
];

export function classifyConsoleLine(line: string): ConsoleEventKind | undefined {
  return PATTERNS.find((p) => p.pattern.test(line))?.kind;
}

export class GuestConsole {
  readonly path: string;
  readonly events: ConsoleEvent[] = [];
  readonly #file: WriteStream;
  readonly #tail: string[] = [];
  readonly #listeners = new Set<(event: ConsoleEvent) => void>();
  readonly #started = performance.now();
  #partial = '';
  readonly #maxTail: number;

  constructor(logPath: string, maxTailLines = 60) {
    this.path = logPath;
    // Appended to, never truncated: a retried cell's boot must not erase an earlier attempt's evidence.
    this.#file = createWriteStream(logPath, { flags: 'a' });
    this.#maxTail = maxTailLines;
  }

  attach(stream: Readable): void {
    stream.on('data', (chunk: Buffer) => this.push(chunk));
  }

  push(chunk: Buffer): void {
    this.#file.write(chunk);
    const text = this.#partial + chunk.toString('utf8');
    const lines = text.split(/\r?\n/);
    this.#partial = lines.pop() ?? '';
    for (const line of lines) this.#onLine(line);
  }

  /** Calls `listener` for each event from now on; returns the unsubscribe function. */
  onEvent(listener: (event: ConsoleEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The last lines, for error messages. */
  tail(lines = 25): string {
    const all = this.#partial ? [...this.#tail, this.#partial] : this.#tail;
    return all.slice(-lines).join('\n');
  }

  async close(): Promise<void> {
    if (this.#partial) this.#onLine(this.#partial);
    this.#partial = '';
    this.#file.end();
    await finished(this.#file).catch(() => {});
  }

  #onLine(raw: string): void {
    // eslint-disable-next-line no-control-regex
    const line = raw.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    this.#tail.push(line);
    if (this.#tail.length > this.#maxTail) this.#tail.shift();
    const kind = classifyConsoleLine(line);
    if (!kind) return;
    const event: ConsoleEvent = { kind, line: line.trim(), atMs: Math.round(performance.now() - this.#started) };
    this.events.push(event);
    for (const listener of this.#listeners) listener(event);
  }
}
