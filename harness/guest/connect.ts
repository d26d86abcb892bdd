// Connecting to a unix socket that an emulator (or its relay) creates once it runs.
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GuestError } from '../util/errors.js';

/** Connects to a unix socket the emulator (or its relay) creates, retrying until it exists. */
export async function connectWhenListening(socketPath: string, until: Promise<unknown>, deadline: number, emulator: string): Promise<net.Socket> {
  let gaveUp = false;
  void until.then(() => (gaveUp = true));
  for (;;) {
    if (gaveUp) throw new GuestError(`${emulator} exited before it opened ${path.basename(socketPath)}`);
    if (performance.now() > deadline) throw new GuestError(`${emulator} did not open ${path.basename(socketPath)} in time`);
    const socket = await new Promise<net.Socket | undefined>((resolve) => {
      const s = net.createConnection(socketPath);
      s.once('connect', () => resolve(s));
      s.once('error', () => {
        s.destroy();
        resolve(undefined);
      });
    });
    if (socket) return socket;
    await sleep(5);
  }
}
