// Runs inside a Bochs guest's own network and PID namespaces (started by
// bochs-guest.ts through `unshare`), as their first process: brings up the namespace's
// loopback, starts Bochs, and relays each of Bochs's TCP serial ports to a unix
// socket in the guest's temp dir, which the host can reach and nothing else can.
// Bochs's RFB display, which listens on every interface, is thereby unreachable.
// When this process ends, the kernel kills everything in the namespace with it; it
// ends when Bochs does, when told to, or when the harness that started it is gone.
// Asked on its stdin (bochs-save.ts), it saves the simulation: a click on the RFB
// display's Save button, then the folder typed at Bochs's prompt.
import { createReadStream, openSync, writeSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { encodeRelayReply, LineSplitter, RfbClick, SAVE_PROMPTS, saveAnswers, saveButton, type RelayReply, type RelayRequest } from './bochs-save.js';

export interface RelayConfig {
  readonly bochs: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Bochs serial port (TCP, inside the namespace) -> unix socket path (outside). */
  readonly ports: readonly { readonly tcp: number; readonly socket: string }[];
  /** Bochs's stdin is a FIFO the relay answers its save prompts on (else /dev/null). */
  readonly saveable?: boolean;
}

/** Where Bochs's RFB display listens inside the namespace. */
const RFB_PORT = 5900;
/** After the click, Bochs asks for the folder at its next GUI poll. */
const PROMPT_TIMEOUT_MS = 30_000;
/** Writing the state (RAM, devices, redologs) takes well under a second here. */
const SAVE_TIMEOUT_MS = 120_000;

function fail(message: string): never {
  process.stderr.write(`levelgate-bochs-relay: ${message}\n`);
  process.exit(70);
}

/**
 * Holds what Bochs sends until the host connects, and what the host sends until Bochs's
 * serial port is connected (a restored guest is spoken to first), then passes bytes
 * both ways.
 */
function relay(port: { tcp: number; socket: string }, bochsExited: () => boolean): net.Server {
  const pending: Buffer[] = [];
  const toBochs: Buffer[] = [];
  let client: net.Socket | undefined;
  let tcp: net.Socket | undefined;
  const server = net.createServer((socket) => {
    client?.destroy();
    client = socket;
    for (const chunk of pending.splice(0)) socket.write(chunk);
    socket.on('data', (chunk: Buffer) => (tcp ? tcp.write(chunk) : toBochs.push(chunk)));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (client === socket) client = undefined;
    });
  });
  server.listen(port.socket);
  void (async () => {
    // Bochs opens its serial servers one after another while it starts: retry until each listens.
    while (!bochsExited()) {
      const socket = await new Promise<net.Socket | undefined>((resolve) => {
        const s = net.createConnection({ host: '127.0.0.1', port: port.tcp });
        s.once('connect', () => resolve(s));
        s.once('error', () => {
          s.destroy();
          resolve(undefined);
        });
      });
      if (socket) {
        tcp = socket;
        for (const chunk of toBochs.splice(0)) socket.write(chunk);
        socket.on('data', (chunk: Buffer) => (client ? client.write(chunk) : pending.push(chunk)));
        socket.on('error', () => socket.destroy());
        socket.on('close', () => client?.end());
        return;
      }
      await sleep(20);
    }
  })();
  return server;
}

/** Bochs's stdout as it comes, forwarded to ours, with waits for its prompts. */
class OutputWatch {
  #text = '';
  #waiters: { re: RegExp; resolve: (text: string) => void }[] = [];

  push(chunk: string): void {
    this.#text = (this.#text + chunk).slice(-65_536);
    for (const waiter of [...this.#waiters]) {
      const match = waiter.re.exec(this.#text);
      if (match) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.resolve(match[0]);
      }
    }
  }

  /** Resolves with the first match of `re` in what Bochs prints from now on; undefined after `ms`. */
  expect(re: RegExp, ms: number): Promise<string | undefined> {
    this.#text = '';
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(undefined);
      }, ms);
      const waiter = {
        re,
        resolve: (text: string) => {
          clearTimeout(timer);
          resolve(text);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

/** Connects to Bochs's RFB display and clicks at (x, y); resolves with the open connection. */
function rfbClick(x: number, y: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const client = new RfbClick(x, y);
    const socket = net.createConnection({ host: '127.0.0.1', port: RFB_PORT });
    const timer = setTimeout(() => giveUp(`no RFB session with Bochs on port ${RFB_PORT} within 10 s`), 10_000);
    function giveUp(reason: string) {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(reason));
    }
    socket.on('error', (error) => giveUp(`cannot reach Bochs's RFB display on port ${RFB_PORT}: ${error.message}`));
    socket.on('data', (chunk: Buffer) => {
      for (const step of client.feed(chunk)) {
        if (step.kind === 'send') socket.write(step.bytes);
        else if (step.kind === 'failed') giveUp(step.reason);
        else {
          clearTimeout(timer);
          resolve(socket);
        }
      }
    });
  });
}

/**
 * Bochs's stdin for answering its prompts: a FIFO, never a socket. Until its first RFB
 * client connects, Bochs 2.7 sends its screen updates to descriptor 0 (an unset
 * socket variable); on a socket (what Node gives a child for 'pipe') they fill it and
 * Bochs stops; on a FIFO or /dev/null they fail harmlessly. The relay holds it open
 * for reading and writing, so it never blocks and never ends.
 */
async function promptFifo(dir: string): Promise<number> {
  const fifo = path.join(dir, 'bochs-stdin.fifo');
  const made = await execa('mkfifo', ['-m', '600', fifo], { reject: false, all: true });
  if (made.failed) fail(`cannot make ${fifo} for Bochs's prompts (${made.shortMessage}): ${made.all ?? ''}`);
  return openSync(fifo, 'r+');
}

/** Saves the running simulation into `dir` (existing, empty) and powers Bochs off. */
async function save(prompts: number | undefined, output: OutputWatch, dir: string): Promise<RelayReply> {
  if (prompts === undefined) return { saved: false, error: 'Bochs was started without a stdin to answer its save prompts on (RelayConfig.saveable)' };
  const button = saveButton();
  const asked = output.expect(SAVE_PROMPTS.folder, PROMPT_TIMEOUT_MS);
  let rfb: net.Socket | undefined;
  try {
    rfb = await rfbClick(button.x, button.y);
    if (!(await asked)) {
      return { saved: false, error: `Bochs asked for no folder within ${PROMPT_TIMEOUT_MS / 1000} s of the click at (${button.x}, ${button.y}): the click missed its Save button (is the guest display not in 80-column text mode?)` };
    }
    const started = performance.now();
    const done = output.expect(new RegExp(`${SAVE_PROMPTS.saved.source}|${SAVE_PROMPTS.failed.source}`), SAVE_TIMEOUT_MS);
    writeSync(prompts, saveAnswers.folder(dir));
    const outcome = await done;
    if (outcome === undefined) return { saved: false, error: `Bochs did not finish saving to ${dir} within ${SAVE_TIMEOUT_MS / 1000} s` };
    if (SAVE_PROMPTS.failed.test(outcome)) return { saved: false, error: `Bochs failed to save its state to ${dir} (see bochs.log)` };
    const ms = Math.round(performance.now() - started);
    writeSync(prompts, saveAnswers.powerOff);
    return { saved: true, ms };
  } catch (error) {
    return { saved: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    rfb?.destroy();
  }
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) fail('usage: bochs-relay CONFIG_JSON');
  const config = JSON.parse(raw) as RelayConfig;
  const lo = await execa('ip', ['link', 'set', 'lo', 'up'], { reject: false, all: true });
  if (lo.failed) fail(`cannot bring up the namespace's loopback (${lo.shortMessage}): ${lo.all ?? ''}`);

  const prompts = config.saveable ? await promptFifo(config.cwd) : undefined;
  // A stream with a descriptor is handed to the child as that descriptor (never read here).
  const stdin = prompts === undefined ? 'ignore' : createReadStream('', { fd: prompts, autoClose: false });
  const bochs = execa(config.bochs, [...config.args], { cwd: config.cwd, stdin, stdout: 'pipe', stderr: 'inherit', buffer: false, reject: false });
  const output = new OutputWatch();
  bochs.stdout!.on('data', (chunk: Buffer) => {
    process.stdout.write(chunk);
    output.push(chunk.toString('latin1'));
  });
  let exited = false;
  const servers = config.ports.map((port) => relay(port, () => exited));
  const stop = () => {
    bochs.kill('SIGTERM');
    setTimeout(() => bochs.kill('SIGKILL'), 2000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', stop);
  // The host holds the other end of stdin: when the harness dies, even by SIGKILL, the
  // kernel closes it, and Bochs stops with it (a PID namespace hides the host's PIDs).
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  // Requests, one JSON line each (bochs-save.ts).
  const lines = new LineSplitter();
  process.stdin.on('data', (chunk: Buffer) => {
    for (const line of lines.push(chunk.toString('utf8'))) {
      if (!line.trim()) continue;
      let request: RelayRequest;
      try {
        request = JSON.parse(line) as RelayRequest;
      } catch {
        process.stdout.write(encodeRelayReply({ saved: false, error: `not a request: ${line.slice(0, 200)}` }));
        continue;
      }
      void save(prompts, output, request.save).then((reply) => process.stdout.write(encodeRelayReply(reply)));
    }
  });
  const result = await bochs;
  exited = true;
  for (const server of servers) server.close();
  process.exit(result.exitCode ?? 128 + 9);
}

void main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
