// Runs inside a Bochs guest's own network and PID namespaces (started by
// bochs-guest.ts through `unshare`), as their first process: brings up the namespace's
// loopback, starts Bochs, and relays each of Bochs's TCP serial ports to a unix
// socket in the guest's temp dir, which the host can reach and nothing else can.
// Bochs's RFB display, which listens on every interface, is thereby unreachable.
// When this process ends, the kernel kills everything in the namespace with it; it
// ends when Bochs does, when told to, or when the harness that started it is gone.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';

export interface RelayConfig {
  readonly bochs: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** Bochs serial port (TCP, inside the namespace) -> unix socket path (outside). */
  readonly ports: readonly { readonly tcp: number; readonly socket: string }[];
}

function fail(message: string): never {
  process.stderr.write(`levelgate-bochs-relay: ${message}\n`);
  process.exit(70);
}

/** Holds what Bochs sends until the host connects, then passes bytes both ways. */
function relay(port: { tcp: number; socket: string }, bochsExited: () => boolean): net.Server {
  const pending: Buffer[] = [];
  let client: net.Socket | undefined;
  let tcp: net.Socket | undefined;
  const server = net.createServer((socket) => {
    client?.destroy();
    client = socket;
    for (const chunk of pending.splice(0)) socket.write(chunk);
    socket.on('data', (chunk: Buffer) => tcp?.write(chunk));
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

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) fail('usage: bochs-relay CONFIG_JSON');
  const config = JSON.parse(raw) as RelayConfig;
  const lo = await execa('ip', ['link', 'set', 'lo', 'up'], { reject: false, all: true });
  if (lo.failed) fail(`cannot bring up the namespace's loopback (${lo.shortMessage}): ${lo.all ?? ''}`);

  const bochs = execa(config.bochs, [...config.args], { cwd: config.cwd, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit', reject: false });
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
  process.stdin.resume();
  const result = await bochs;
  exited = true;
  for (const server of servers) server.close();
  process.exit(result.exitCode ?? 128 + 9);
}

void main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
