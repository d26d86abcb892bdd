// How a running Bochs 2.7 is saved, in pure parts: the RFB client that clicks the
// header bar's "Save simulation state" button, the prompts Bochs then asks on its
// stdin/stdout (display option no_gui_console) and the answers, and the control lines
// between the harness and the namespace relay that does it (bochs-relay.ts).

/**
 * The guest display's width while Linux runs: VGA text mode, 80 columns of 9 pixels.
 * Bochs lays its header-bar buttons from the right edge of the guest display, 32
 * pixels each: power [w-32, w), save/restore [w-64, w-32), reset [w-96, w-64).
 */
export const GUEST_DISPLAY_WIDTH = 720;
const BUTTON_WIDTH = 32;
/** The header bar is the top 32 pixels; a click at y < 32 is a header-bar click. */
const HEADER_BAR_Y = 16;

/** Where the Save button's middle is on a guest display `width` pixels wide. */
export function saveButton(width = GUEST_DISPLAY_WIDTH): { readonly x: number; readonly y: number } {
  return { x: width - BUTTON_WIDTH - BUTTON_WIDTH / 2, y: HEADER_BAR_Y };
}

/** An RFB PointerEvent: message type 5, button mask, x, y (big-endian). */
export function pointerEvent(buttons: number, x: number, y: number): Buffer {
  const message = Buffer.alloc(6);
  message.writeUInt8(5, 0);
  message.writeUInt8(buttons, 1);
  message.writeUInt16BE(x, 2);
  message.writeUInt16BE(y, 4);
  return message;
}

export type RfbStep =
  | { readonly kind: 'send'; readonly bytes: Buffer }
  | { readonly kind: 'clicked'; readonly width: number; readonly height: number; readonly name: string }
  | { readonly kind: 'failed'; readonly reason: string };

/**
 * An RFB 3.3 client that clicks once: it echoes the server's version, takes security
 * type 1 (none), asks for a shared session, reads ServerInit, then presses and
 * releases button 1 at (x, y). Feed it the server's bytes; it says what to send.
 */
export class RfbClick {
  readonly #x: number;
  readonly #y: number;
  #buffer = Buffer.alloc(0);
  #state: 'version' | 'security' | 'init' | 'name' | 'done' = 'version';
  #init: { width: number; height: number; nameLength: number } | undefined;

  constructor(x: number, y: number) {
    this.#x = x;
    this.#y = y;
  }

  feed(chunk: Buffer): RfbStep[] {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const steps: RfbStep[] = [];
    for (;;) {
      const step = this.#next();
      if (!step) return steps;
      steps.push(...step);
      if (step.some((s) => s.kind !== 'send')) return steps;
    }
  }

  #take(n: number): Buffer | undefined {
    if (this.#buffer.length < n) return undefined;
    const bytes = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return bytes;
  }

  #next(): RfbStep[] | undefined {
    switch (this.#state) {
      case 'version': {
        const version = this.#take(12);
        if (!version) return undefined;
        if (!/^RFB \d{3}\.\d{3}\n$/.test(version.toString('latin1'))) return [{ kind: 'failed', reason: `not an RFB server (it said ${JSON.stringify(version.toString('latin1'))})` }];
        this.#state = 'security';
        // Bochs speaks 3.3 and takes its own version back.
        return [{ kind: 'send', bytes: Buffer.from(version) }];
      }
      case 'security': {
        const security = this.#take(4);
        if (!security) return undefined;
        const type = security.readUInt32BE(0);
        if (type !== 1) return [{ kind: 'failed', reason: `the RFB server asks for security type ${type}, not 1 (none)` }];
        this.#state = 'init';
        return [{ kind: 'send', bytes: Buffer.from([1]) }]; // ClientInit: shared
      }
      case 'init': {
        const init = this.#take(24);
        if (!init) return undefined;
        this.#init = { width: init.readUInt16BE(0), height: init.readUInt16BE(2), nameLength: init.readUInt32BE(20) };
        this.#state = 'name';
        return [];
      }
      case 'name': {
        const init = this.#init!;
        const name = this.#take(init.nameLength);
        if (!name) return undefined;
        this.#state = 'done';
        return [
          { kind: 'send', bytes: Buffer.concat([pointerEvent(1, this.#x, this.#y), pointerEvent(0, this.#x, this.#y)]) },
          { kind: 'clicked', width: init.width, height: init.height, name: name.toString('latin1') },
        ];
      }
      case 'done':
        return undefined;
    }
  }
}

/** What Bochs prints (stdout) after the click, and after it saved. */
export const SAVE_PROMPTS = {
  folder: /Save Bochs state to folder/,
  saved: /Do you want to continue\?/,
  failed: /Failed to save state/,
} as const;

/** The answers, written to Bochs's stdin: the folder, then "no" (power off after saving). */
export const saveAnswers = {
  folder: (dir: string): string => {
    if (!dir.startsWith('/') || /[\n\r]/.test(dir)) throw new Error(`Bochs saves to an absolute path on one line, not ${JSON.stringify(dir)}`);
    return `${dir}\n`;
  },
  powerOff: 'n\n',
} as const;

/** A request from the harness to the relay, one JSON line on the relay's stdin. */
export interface RelayRequest {
  /** Save the simulation into this existing, empty folder, then power Bochs off. */
  readonly save: string;
}

/** The relay's answer: one line on its stdout, among Bochs's own output. */
export type RelayReply = { readonly saved: true; readonly ms: number } | { readonly saved: false; readonly error: string };

const REPLY_MARK = 'levelgate-bochs-relay: ';

export function encodeRelayRequest(request: RelayRequest): string {
  return `${JSON.stringify(request)}\n`;
}

export function encodeRelayReply(reply: RelayReply): string {
  // On a line of its own, whatever Bochs printed last.
  return `\n${REPLY_MARK}${JSON.stringify(reply)}\n`;
}

/** The relay's reply in one line of its output, if the line is one. */
export function parseRelayReply(line: string): RelayReply | undefined {
  if (!line.startsWith(REPLY_MARK)) return undefined;
  try {
    const value = JSON.parse(line.slice(REPLY_MARK.length)) as { saved?: unknown; ms?: unknown; error?: unknown };
    if (value.saved === true && typeof value.ms === 'number') return { saved: true, ms: value.ms };
    if (value.saved === false && typeof value.error === 'string') return { saved: false, error: value.error };
  } catch {
    // Not ours: Bochs printed something that starts the same way.
  }
  return undefined;
}

/** Splits a byte stream into lines, for the harness watching the relay's output. */
export class LineSplitter {
  #rest = '';

  push(chunk: string): string[] {
    const lines = (this.#rest + chunk).split('\n');
    this.#rest = lines.pop() ?? '';
    if (this.#rest.length > 65_536) this.#rest = this.#rest.slice(-65_536);
    return lines;
  }
}
