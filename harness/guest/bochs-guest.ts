// A Bochs guest pinned to one level: the backend for levels QEMU cannot emulate (v4:
// AVX-512) on hosts whose KVM cannot run guests. Same image, agent and proof as the
// QEMU guest; what differs is lowered here:
// - boot: the image's Bochs boot disk (boot sector + flat kernel + initramfs) and a
//   per-guest boot info block (bochs-config.ts), since Bochs has no -kernel;
// - disks: IDE, the base images opened read-only with writes in redologs in the
//   guest's temp dir (`undoable` for the root, so its state survives a reboot);
// - channel: serial ports relayed to unix sockets from inside an empty network
//   namespace (bochs-relay.ts), which also keeps Bochs's RFB display off the network;
// - time: the guest clock counts instructions, so the host times every command.
import { readFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../config/defaults.js';
import { debianPackageVersion } from '../host/tools.js';
import { BOCHS_KERNEL_ARGS, bochsCpuModel } from '../levels/bochs-cpu.js';
import { LevelUnavailableError, UsageError } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import { AgentGuest, bootWith, describeEvidence, guestDeath, spawnEmulator, stopEmulator, type AgentGuestParts } from './agent-guest.js';
import { BOCHS_AGENT_DEVICE, BOCHS_PORTS, BOCHS_SHELL_DEVICE, ROOT_DISK_MODEL, bootInfo, buildBochsrc, type BochsMachineSpec } from './bochs-config.js';
import type { RelayConfig } from './bochs-relay.js';
import { connectWhenListening } from './connect.js';
import { GuestConsole } from './console.js';
import { quoteCommand, type GuestBootOptions, type GuestFacts } from './guest.js';
import { KERNEL_ARGS } from './kernel-args.js';
import { raceWith } from './race.js';

export const BOCHS_BINARY = 'bochs';
export const BOCHS_ROM = '/usr/share/bochs/BIOS-bochs-latest';
export const BOCHS_VGA_ROM = '/usr/share/vgabios/vgabios.bin';
/** The longest data disk name whose IDE model string ("lg-NAME") the guest still sees whole. */
const MAX_DATA_DISK_NAME = 13;

/** `disk` is a root redolog (boot-guest.ts newDiskState); `cpu` a Bochs CPU model. */
export type BochsGuestOptions = GuestBootOptions;

/** The kernel command line of a Bochs guest. */
export function bochsKernelArgs(extra: readonly string[] = []): string[] {
  return [
    ...KERNEL_ARGS,
    ...BOCHS_KERNEL_ARGS,
    // panic=-1 reboots, reboot=t makes that a triple fault, which ends Bochs (panic: action=fatal).
    'reboot=t',
    'rodata=off',
    'levelgate.disk=ata',
    `levelgate.agent=${BOCHS_AGENT_DEVICE}`,
    ...extra,
  ];
}

async function sizeOf(file: string): Promise<number> {
  return (await stat(file)).size;
}

export class BochsGuest extends AgentGuest {
  readonly spec: BochsMachineSpec;

  private constructor(parts: AgentGuestParts, spec: BochsMachineSpec) {
    super(parts);
    this.spec = spec;
  }

  static boot(options: BochsGuestOptions): Promise<BochsGuest> {
    return bootWith(options, async ({ id, stack, started, tmp, dataDisks }) => {
      if (options.target?.nearMiss) throw new LevelUnavailableError(`Bochs has no CPU model one feature short of a level: ${options.target.name} cannot be pinned`);
      const inTmp = (name: string) => path.join(tmp, name);
      for (const disk of dataDisks) {
        if (disk.name.length > MAX_DATA_DISK_NAME) throw new UsageError(`data disk name "${disk.name}" is too long for a Bochs guest: at most ${MAX_DATA_DISK_NAME} characters (it travels as the IDE model string)`);
      }
      const image = options.image;
      const spec: BochsMachineSpec = {
        cpuModel: options.cpu ?? bochsCpuModel(options.level),
        memoryMiB: options.memoryMiB ?? 1024,
        romImage: BOCHS_ROM,
        vgaRomImage: BOCHS_VGA_ROM,
        bootDisk: { path: image.bochsBootDisk, bytes: await sizeOf(image.bochsBootDisk), journal: inTmp('boot.redolog'), mode: 'volatile', model: 'levelgate-boot' },
        rootDisk: { path: image.rootDisk, bytes: await sizeOf(image.rootDisk), journal: options.disk ?? inTmp('root.redolog'), mode: 'undoable', model: ROOT_DISK_MODEL },
        dataDisks: await Promise.all(
          dataDisks.map(async (d, i) => ({ path: d.path, bytes: await sizeOf(d.path), journal: inTmp(`data-${i}.redolog`), mode: 'volatile' as const, model: `lg-${d.name}` })),
        ),
        bootInfo: inTmp('boot-info.bin'),
        logFile: inTmp('bochs.log'),
        shell: options.shell ?? false,
      };
      const kernelArgs = bochsKernelArgs(options.extraKernelArgs);
      await writeFile(spec.bootInfo, bootInfo(image.manifest.bochsBoot, kernelArgs));
      const rc = inTmp('bochsrc');
      await writeFile(rc, buildBochsrc(spec));
      // Bochs's debugger is compiled in and would stop at a prompt: its first command is "continue".
      const debuggerRc = inTmp('debugger.rc');
      await writeFile(debuggerRc, 'c\n');

      const sockets = { console: inTmp('console.sock'), agent: inTmp('agent.sock'), shell: inTmp('shell.sock') };
      const relay: RelayConfig = {
        bochs: BOCHS_BINARY,
        args: ['-q', '-f', rc, '-rc', debuggerRc],
        cwd: tmp,
        ports: [
          { tcp: BOCHS_PORTS.console, socket: sockets.console },
          { tcp: BOCHS_PORTS.agent, socket: sockets.agent },
          ...(spec.shell ? [{ tcp: BOCHS_PORTS.shell, socket: sockets.shell }] : []),
        ],
      };
      const argv = unshareArgs(relay);
      const guestConsole = new GuestConsole(options.consoleLog ?? inTmp('console.log'));
      stack.defer('close console log', () => guestConsole.close());

      // stdin is never written: its end closing tells the relay the harness is gone
      // (bochs-relay.ts). Killing unshare kills the namespace's first process
      // (--kill-child), and with it Bochs.
      const { child, exited } = spawnEmulator('unshare', argv, { stdin: 'pipe', signal: options.signal });
      let outputText = '';
      const keep = (chunk: Buffer) => (outputText = (outputText + chunk.toString('utf8')).slice(-16_384));
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      let tearingDown = false;
      stack.defer('stop Bochs', async () => {
        tearingDown = true;
        await stopEmulator(child, exited, () => void child.kill('SIGTERM'), 3000);
      });
      const evidence = () => describeEvidence('Bochs', [bochsOutput(outputText), logTail(spec.logFile)].filter(Boolean).join('\n'), guestConsole);
      const death = guestDeath({
        id,
        exited,
        console: guestConsole,
        evidence,
        isTearingDown: () => tearingDown,
        describeExit: (how) => `Bochs ${how} (guest ${id}, level ${options.level}, ${spec.cpuModel})`,
        hint: () => hintForBochsFailure(outputText),
        ...(options.signal ? { signal: options.signal } : {}),
      });

      const bootTimeoutMs = options.bootTimeoutMs ?? DEFAULTS.backends.bochs.bootTimeoutMs;
      const deadline = started + bootTimeoutMs;
      const consoleSocket = await raceWith(connectWhenListening(sockets.console, exited, deadline, 'Bochs'), death);
      consoleSocket.on('data', (chunk: Buffer) => {
        guestConsole.push(chunk);
        options.onConsoleData?.(chunk);
      });
      consoleSocket.on('error', () => consoleSocket.destroy());
      stack.defer('close console channel', () => void consoleSocket.destroy());
      const agent = new AgentClient(await raceWith(connectWhenListening(sockets.agent, exited, deadline, 'Bochs'), death));
      stack.defer('close agent channel', () => agent.close());

      const facts: GuestFacts = {
        id,
        emulator: 'Bochs',
        emulatorVersion: (await debianPackageVersion('bochs')) ?? 'unknown',
        accel: 'bochs',
        cpu: spec.cpuModel,
        requestedLevel: options.level,
        imageDigest: image.digest,
        kernelRelease: image.manifest.kernel.release,
      };
      const guest = new BochsGuest(
        {
          facts,
          console: guestConsole,
          agent,
          stack,
          exited,
          death,
          evidence,
          commandLine: `${quoteCommand(['unshare', ...argv.slice(0, argv.indexOf('--'))])} -- levelgate-bochs-relay -- ${quoteCommand([BOCHS_BINARY, ...relay.args])}   (bochsrc: ${rc})`,
          proofHint: `Bochs was started with cpu model=${spec.cpuModel}`,
          hostTimesCommands: true,
          ...(spec.shell ? { shell: { socket: sockets.shell, device: BOCHS_SHELL_DEVICE } } : {}),
          level: options.level,
          ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
        spec,
      );
      await guest.becomeReady(started, deadline, bootTimeoutMs);
      return guest;
    });
  }
}

/**
 * unshare: a new network namespace (nothing but a loopback: Bochs's RFB server and serial
 * ports are unreachable from outside) and a new PID namespace whose first process is the
 * relay (when it dies, the kernel kills Bochs). Without root, a user namespace grants the
 * capabilities for that.
 */
export function unshareArgs(relay: RelayConfig, isRoot = process.getuid?.() === 0): string[] {
  const relayScript = fileURLToPath(new URL('./bochs-relay.js', import.meta.url));
  return ['--net', '--pid', '--fork', '--kill-child', ...(isRoot ? [] : ['--map-root-user']), '--', process.execPath, relayScript, JSON.stringify(relay)];
}

/** Bochs's own output without the plugin-loading chatter. */
function bochsOutput(text: string): string {
  return text
    .split('\n')
    .filter((l) => !/^\d+i\[|^ALSA lib|lt_dlhandle|^=+$/.test(l.trim()))
    .slice(-20)
    .join('\n');
}

function logTail(logFile: string): string {
  try {
    const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => /^\d+[ep]\[|PANIC|exiting/.test(l));
    return lines.length ? `bochs.log (errors):\n${lines.slice(-15).join('\n')}` : '';
  } catch {
    return '';
  }
}

function hintForBochsFailure(output: string): string | undefined {
  if (/unshare: .*(Operation not permitted|Permission denied)/.test(output)) return 'unshare could not create the network and PID namespaces: run as root, or enable unprivileged user namespaces (kernel.unprivileged_userns_clone=1)';
  if (/cannot bring up the namespace's loopback/.test(output)) return "install iproute2 (the relay runs `ip link set lo up` inside the guest's namespace)";
  if (/could not open hard drive image|image locked/.test(output)) return 'Bochs could not open a disk image (see bochs.log in the guest temp dir)';
  return undefined;
}
