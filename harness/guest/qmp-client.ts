// A minimal QMP client: the QEMU Machine Protocol over a unix socket, one JSON object
// per line. Used to control the VM (quit, status) without signals.
import net from 'node:net';
import { once } from 'node:events';

type QmpReply = { return?: unknown; error?: { class: string; desc: string }; event?: string; QMP?: unknown; id?: number };

export class QmpClient {
  readonly #socket: net.Socket;
  readonly #waiters = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #buffer = '';
  readonly events: { event: string; data: unknown }[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('close', () => this.#failAll(new Error('QMP connection closed')));
    socket.on('error', (error) => this.#failAll(error));
  }

  /** Connects, waits for QEMU's greeting and leaves capabilities negotiation mode. */
  static async connect(path: string): Promise<QmpClient> {
    const socket = net.createConnection(path);
    await once(socket, 'connect');
    const client = new QmpClient(socket);
    await client.execute('qmp_capabilities');
    return client;
  }

  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiters.set(id, { resolve, reject });
      this.#socket.write(`${JSON.stringify({ execute: command, ...(args ? { arguments: args } : {}), id })}\n`);
    });
  }

  close(): void {
    this.#failAll(new Error('QMP connection closed by the host'));
    this.#socket.destroy();
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let newline: number;
    while ((newline = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (!line) continue;
      let message: QmpReply;
      try {
        message = JSON.parse(line) as QmpReply;
      } catch {
        continue;
      }
      if (message.event) this.events.push({ event: message.event, data: (message as { data?: unknown }).data });
      if (typeof message.id !== 'number') continue;
      const waiter = this.#waiters.get(message.id);
      this.#waiters.delete(message.id);
      if (!waiter) continue;
      if (message.error) waiter.reject(new Error(`QMP ${message.error.class}: ${message.error.desc}`));
      else waiter.resolve(message.return);
    }
  }

  #failAll(error: Error): void {
    for (const w of this.#waiters.values()) w.reject(error);
    this.#waiters.clear();
  }
}
