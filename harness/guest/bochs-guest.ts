// A Bochs guest pinned to one level: the backend for levels QEMU cannot emulate (v4:
// AVX-512) on hosts whose KVM cannot run guests. Same image, agent and proof as the
// QEMU guest; what differs is lowered here:
// - boot: the image's Bochs boot disk (boot sector + flat kernel + initramfs) and a
//   per-guest boot info block (bochs-config.ts), since Bochs has no -kernel;
// - disks: IDE, the base images opened read-only with writes in redologs in the
//   guest's temp dir (`undoable` for the root, so its state survives a reboot);
// - channel: serial ports relayed to unix sockets from inside an empty network
//   namespace (bochs-relay.ts), which also keeps Bochs's RFB display off the network;
// - time: the guest clock counts instructions, so the host times every command;
// - snapshots: saved through the RFB display's Save button (bochs-save.ts), restored
//   from a copy of the saved config with the guest's own journals.
import { readFileSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../model/defaults.js';
import { exists } from '../host/cache.js';
import { BOCHS_KERNEL_ARGS, bochsCpuModel } from '../levels/bochs-cpu.js';
import { limitsNow } from '../model/limits.js';
import { GuestError, LevelUnavailableError, UsageError } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import { bochsEngine, type BochsProgram } from './bochs-engine.js';
import { AgentGuest, bootWith, describeEvidence, guestDeath, spawnEmulator, stopEmulator, type AgentGuestParts, type BootContext, type EmulatorExit } from './agent-guest.js';
import type { CleanupStack } from '../util/cleanup-stack.js';
import { BOCHS_AGENT_DEVICE, BOCHS_PORTS, BOCHS_SHELL_DEVICE, ROOT_DISK_MODEL, bootInfo, buildBochsrc, type BochsMachineSpec } from './bochs-config.js';
import type { RelayConfig } from './bochs-relay.js';
import { encodeRelayRequest, LineSplitter, parseRelayReply, type RelayReply } from './bochs-save.js';
import { copySavedRootJournal, restoreState, type BochsSnapshotFiles } from './bochs-restore.js';
import { connectWhenListening } from './connect.js';
import { GuestConsole } from './console.js';
import { quoteCommand, type GuestBootOptions, type GuestFacts } from './guest.js';
import { KERNEL_ARGS } from './kernel-args.js';
import type { DataDisk } from '../model/guest.js';
import { raceWith, settlesWithin } from './race.js';

/**
 * Guest memory. Bochs restores read the whole saved RAM (≈1.5 s at 512 MiB, 2.1 s at
 * 1 GiB); the catalog's package managers fit in 512 MiB (BENCHMARKS.md).
 */
export const BOCHS_MEMORY_MIB = 512;
/** How long the relay may take to click, be asked and save. */
const SAVE_LIMIT_MS = 180_000;
/** The longest data disk name whose IDE model string ("lg-NAME") the guest still sees whole. */
const MAX_DATA_DISK_NAME = 13;

/** `disk` is a root redolog (a backend's newDiskState, accel/backend.ts); `cpu` a Bochs CPU model. */
export interface BochsGuestOptions extends GuestBootOptions {
  /** Default: the engine of this process (bochs-engine.ts: the lean build, else the host's). */
  readonly bochs?: BochsProgram;
}

/** The options once the engine is chosen. */
type EngineOptions = BochsGuestOptions & { readonly bochs: BochsProgram };

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

/** How a Bochs guest starts: a cold boot, a boot that can be saved, or a restore of a saved one. */
type Start = { readonly kind: 'boot' } | { readonly kind: 'boot-for-snapshot'; readonly bootInfo: string } | { readonly kind: 'restore'; readonly snapshot: BochsSnapshotFiles };

/** Asks the relay to save the simulation; resolves with how long Bochs took to write it. */
type SaveControl = (dir: string) => Promise<number>;

export class BochsGuest extends AgentGuest {
  readonly spec: BochsMachineSpec;
  readonly #save: SaveControl | undefined;

  private constructor(parts: AgentGuestParts, spec: BochsMachineSpec, save: SaveControl | undefined) {
    super(parts);
    this.spec = spec;
    this.#save = save;
  }

  /** Boots the guest, waits for its agent and proves its level; throws with evidence otherwise. */
  static boot(options: BochsGuestOptions): Promise<BochsGuest> {
    return BochsGuest.#start(options, { kind: 'boot' });
  }

  /**
   * Boots a guest that saveSnapshot() can save: Bochs's stdin is the relay's to answer
   * the save prompts, the shell port is always there (so every restore has the same
   * devices), and the boot info file is `bootInfo`, which must outlive the guest.
   */
  static bootForSnapshot(options: BochsGuestOptions, bootInfo: string): Promise<BochsGuest> {
    return BochsGuest.#start(options, { kind: 'boot-for-snapshot', bootInfo });
  }

  /**
   * Restores a booted, proven guest from Bochs's saved state: Bochs reads a copy of the
   * saved config whose journals are this guest's (the root's is `options.disk`), so the
   * snapshot is only read. The guest's clock and entropy are refreshed and its cpuinfo
   * read back: a guest that is not the pinned CPU of the snapshot's proof is refused.
   */
  static restore(options: BochsGuestOptions, snapshot: BochsSnapshotFiles): Promise<BochsGuest> {
    return BochsGuest.#start(options, { kind: 'restore', snapshot });
  }

  static async #start(given: BochsGuestOptions, start: Start): Promise<BochsGuest> {
    // Chosen (and on first use built) before the boot's clock starts.
    const options: EngineOptions = { ...given, bochs: given.bochs ?? (await bochsEngine(given.signal ? { signal: given.signal } : {})).program };
    return bootWith(options, async (context) => {
      const { id, stack, started, tmp, dataDisks } = context;
      if (options.target?.nearMiss) throw new LevelUnavailableError(`Bochs has no CPU model one feature short of a level: ${options.target.name} cannot be pinned`);
      const inTmp = (name: string) => path.join(tmp, name);
      const spec = start.kind === 'restore' ? await restoreSpec(options, start.snapshot, dataDisks, inTmp) : await bootSpec(options, start, dataDisks, inTmp);
      const sockets = { console: inTmp('console.sock'), agent: inTmp('agent.sock'), shell: inTmp('shell.sock') };
      const relay = await relayConfig(options, start, spec, sockets, tmp);
      const bochs = spawnBochs(options, relay, spec, context);
      // Without a limit from the run, this backend's for the host's load now.
      const bootTimeoutMs = options.bootTimeoutMs ?? limitsNow(DEFAULTS.backends.bochs).bootMs;
      const deadline = started + bootTimeoutMs;
      const agent = await connectChannels(options, bochs, sockets, deadline, stack);
      const facts: GuestFacts = {
        id,
        emulator: 'Bochs',
        emulatorVersion: options.bochs.version,
        accel: 'bochs',
        cpu: spec.cpuModel,
        requestedLevel: options.level,
        imageDigest: options.image.digest,
        kernelRelease: options.image.manifest.kernel.release,
      };
      const guest = new BochsGuest(
        {
          facts,
          console: bochs.console,
          agent,
          stack,
          exited: bochs.exited,
          death: bochs.death,
          evidence: bochs.evidence,
          commandLine: `${quoteCommand(['unshare', ...bochs.argv.slice(0, bochs.argv.indexOf('--'))])} -- levelgate-bochs-relay -- ${quoteCommand([relay.config.bochs, ...relay.config.args])}   ${relay.described}`,
          proofHint: `Bochs was started with cpu model=${spec.cpuModel}`,
          hostTimesCommands: true,
          ...(spec.shell ? { shell: { socket: sockets.shell, device: BOCHS_SHELL_DEVICE } } : {}),
          level: options.level,
          ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
        spec,
        start.kind === 'boot-for-snapshot' ? saveControl(id, bochs, agent) : undefined,
      );
      if (start.kind === 'restore') await guest.becomeRestored(started, deadline, bootTimeoutMs, start.snapshot.proof);
      else await guest.becomeReady(started, deadline, bootTimeoutMs);
      return guest;
    });
  }

  /**
   * Saves this guest (booted with bootForSnapshot, its agent idle) into `dir`, an
   * existing empty folder: Bochs writes its state there and powers off. Resolves with
   * the time Bochs took to write it. The guest is gone afterwards.
   */
  async saveSnapshot(dir: string): Promise<number> {
    if (!this.#save) throw new GuestError(`guest ${this.facts.id} was not booted to be saved (BochsGuest.bootForSnapshot)`);
    try {
      return await this.#save(dir);
    } finally {
      await this.dispose();
    }
  }
}

/** The host sockets the relay serves Bochs's serial ports on. */
interface BochsSockets {
  readonly console: string;
  readonly agent: string;
  readonly shell: string;
}

/** A Bochs process (under its relay) started for a guest: its output read, its death watched, its stop on the stack. */
interface BochsProcess {
  readonly argv: readonly string[];
  readonly child: ReturnType<typeof spawnEmulator>['child'];
  readonly exited: Promise<EmulatorExit>;
  readonly death: Promise<never>;
  readonly evidence: () => string;
  readonly console: GuestConsole;
  /** Called with each reply of the relay (a save's). */
  onReply: ((reply: RelayReply) => void) | undefined;
  /** Marks the coming exit as expected (a teardown, a save's power-off). */
  tearDown(): void;
}

/** What the relay starts: Bochs on a fresh bochsrc (a boot) or on a copy of a saved state (a restore), and its ports. */
async function relayConfig(options: EngineOptions, start: Start, spec: BochsMachineSpec, sockets: BochsSockets, tmp: string): Promise<{ config: RelayConfig; described: string }> {
  const inTmp = (name: string) => path.join(tmp, name);
  // A Bochs with its debugger compiled in (the host's) would stop at a prompt: its first command is "continue".
  // A build without one refuses -rc.
  const debuggerArgs: string[] = [];
  if (options.bochs.debugger) {
    const debuggerRc = inTmp('debugger.rc');
    await writeFile(debuggerRc, 'c\n');
    debuggerArgs.push('-rc', debuggerRc);
  }
  let bochsArgs: string[];
  let described: string;
  if (start.kind === 'restore') {
    const state = await restoreState(start.snapshot, spec, inTmp('state'));
    bochsArgs = ['-q', '-r', state, ...debuggerArgs];
    described = `(restored from ${start.snapshot.state})`;
  } else {
    await writeFile(spec.bootInfo, bootInfo(options.image.manifest.bochsBoot, bochsKernelArgs(options.extraKernelArgs)));
    const rc = inTmp('bochsrc');
    await writeFile(rc, buildBochsrc(spec));
    bochsArgs = ['-q', '-f', rc, ...debuggerArgs];
    described = `(bochsrc: ${rc})`;
  }
  const [program, ...prefix] = options.bochs.argv0;
  const config: RelayConfig = {
    bochs: program!,
    args: [...prefix, ...bochsArgs],
    cwd: tmp,
    ports: [
      { tcp: BOCHS_PORTS.console, socket: sockets.console },
      { tcp: BOCHS_PORTS.agent, socket: sockets.agent },
      ...(spec.shell ? [{ tcp: BOCHS_PORTS.shell, socket: sockets.shell }] : []),
    ],
    ...(start.kind === 'boot-for-snapshot' ? { saveable: true } : {}),
  };
  return { config, described };
}

/**
 * Starts the relay (and Bochs under it) in an empty network namespace. stdin carries
 * save requests (bochs-save.ts) and nothing else: its end closing tells the relay the
 * harness is gone (bochs-relay.ts). Killing unshare kills the namespace's first process
 * (--kill-child), and with it Bochs.
 */
function spawnBochs(options: EngineOptions, relay: { config: RelayConfig }, spec: BochsMachineSpec, { id, stack, tmp }: BootContext): BochsProcess {
  const argv = unshareArgs(relay.config);
  const guestConsole = new GuestConsole(options.consoleLog ?? path.join(tmp, 'console.log'));
  stack.defer('close console log', () => guestConsole.close());
  const { child, exited } = spawnEmulator('unshare', argv, { stdin: 'pipe', signal: options.signal, env: options.bochs.env });
  let outputText = '';
  const lines = new LineSplitter();
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    outputText = (outputText + text).slice(-16_384);
    for (const line of lines.push(text)) {
      const reply = parseRelayReply(line);
      if (reply) bochs.onReply?.(reply);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (outputText = (outputText + chunk.toString('utf8')).slice(-16_384)));
  const evidence = () => describeEvidence('Bochs', [bochsOutput(outputText), logTail(spec.logFile)].filter(Boolean).join('\n'), guestConsole);
  const { death, tearDown } = guestDeath({
    id,
    exited,
    console: guestConsole,
    evidence,
    describeExit: (how) => `Bochs ${how} (guest ${id}, level ${options.level}, ${spec.cpuModel})`,
    hint: () => hintForBochsFailure(outputText),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  stack.defer('stop Bochs', async () => {
    tearDown();
    await stopEmulator(child, exited, () => void child.kill('SIGTERM'), 3000);
  });
  const bochs: BochsProcess = { argv, child, exited, death, evidence, console: guestConsole, onReply: undefined, tearDown };
  return bochs;
}

/** Connects the console (logged and watched) and the agent through the relay's sockets, by `deadline`. */
async function connectChannels(options: BochsGuestOptions, bochs: BochsProcess, sockets: BochsSockets, deadline: number, stack: CleanupStack): Promise<AgentClient> {
  const consoleSocket = await raceWith(connectWhenListening(sockets.console, bochs.exited, deadline, 'Bochs'), bochs.death);
  consoleSocket.on('data', (chunk: Buffer) => {
    bochs.console.push(chunk);
    options.onConsoleData?.(chunk);
  });
  consoleSocket.on('error', () => consoleSocket.destroy());
  stack.defer('close console channel', () => void consoleSocket.destroy());
  const agent = new AgentClient(await raceWith(connectWhenListening(sockets.agent, bochs.exited, deadline, 'Bochs'), bochs.death));
  stack.defer('close agent channel', () => agent.close());
  return agent;
}

/** How a guest booted for a snapshot is saved: the relay asked to click Save, Bochs's answer and power-off awaited. */
function saveControl(id: string, bochs: BochsProcess, agent: AgentClient): SaveControl {
  return async (dir) => {
    // A command in flight would be cut in two: one half saved, one lost.
    if (agent.busy) throw new GuestError(`guest ${id} is running a command: save it once the command has ended`);
    // Bochs powers off once it has saved: that exit is no death.
    bochs.tearDown();
    const reply = new Promise<RelayReply>((resolve) => (bochs.onReply = resolve));
    bochs.child.stdin!.write(encodeRelayRequest({ save: dir }));
    const gone = bochs.exited.then(async () => {
      await sleep(1000);
      throw new GuestError(`guest ${id}: Bochs exited before it said the state was saved`, { details: bochs.evidence() });
    });
    const result = await raceWith(reply, gone, {
      timeoutMs: SAVE_LIMIT_MS,
      onTimeout: () => new GuestError(`guest ${id}: the relay did not answer the save request within ${SAVE_LIMIT_MS / 1000} s`, { details: bochs.evidence() }),
    });
    if (!result.saved) throw new GuestError(`guest ${id}: saving the Bochs guest failed: ${result.error}`, { details: bochs.evidence() });
    if (!(await settlesWithin(bochs.exited, 30_000))) throw new GuestError(`guest ${id}: Bochs saved its state but did not power off within 30 s`, { details: bochs.evidence() });
    return result.ms;
  };
}

/** The machine of a cold boot: the image's boot disk, the root journal (`options.disk`) and data disks. */
async function bootSpec(options: EngineOptions, start: Exclude<Start, { kind: 'restore' }>, dataDisks: readonly DataDisk[], inTmp: (name: string) => string): Promise<BochsMachineSpec> {
  for (const disk of dataDisks) {
    if (disk.name.length > MAX_DATA_DISK_NAME) throw new UsageError(`data disk name "${disk.name}" is too long for a Bochs guest: at most ${MAX_DATA_DISK_NAME} characters (it travels as the IDE model string)`);
  }
  const image = options.image;
  return {
    cpuModel: options.cpu ?? bochsCpuModel(options.level),
    memoryMiB: options.memoryMiB ?? BOCHS_MEMORY_MIB,
    romImage: options.bochs.romImage,
    vgaRomImage: options.bochs.vgaRomImage,
    bootDisk: { path: image.bochsBootDisk, bytes: await sizeOf(image.bochsBootDisk), journal: inTmp('boot.redolog'), mode: 'volatile', model: 'levelgate-boot' },
    rootDisk: { path: image.rootDisk, bytes: await sizeOf(image.rootDisk), journal: options.disk ?? inTmp('root.redolog'), mode: 'undoable', model: ROOT_DISK_MODEL },
    dataDisks: await Promise.all(dataDisks.map(async (d, i) => ({ path: d.path, bytes: await sizeOf(d.path), journal: inTmp(`data-${i}.redolog`), mode: 'volatile' as const, model: `lg-${d.name}` }))),
    bootInfo: start.kind === 'boot-for-snapshot' ? start.bootInfo : inTmp('boot-info.bin'),
    logFile: inTmp('bochs.log'),
    shell: start.kind === 'boot-for-snapshot' ? true : (options.shell ?? false),
  };
}

/** The machine of a restore: the snapshot's, with this guest's journals; refuses options the snapshot cannot honour. */
async function restoreSpec(options: EngineOptions, snapshot: BochsSnapshotFiles, dataDisks: readonly DataDisk[], inTmp: (name: string) => string): Promise<BochsMachineSpec> {
  const refuse = (what: string) => new UsageError(`cannot restore the ${snapshot.proof.requested} Bochs snapshot ${what}`, { hint: 'boot the guest instead (BochsGuest.boot, or --cold-boot)' });
  if (options.cpu !== undefined && options.cpu !== snapshot.cpuModel) throw refuse(`(cpu ${snapshot.cpuModel}) as cpu ${options.cpu}`);
  if (options.memoryMiB !== undefined && options.memoryMiB !== snapshot.memoryMiB) throw refuse(`(${snapshot.memoryMiB} MiB) with ${options.memoryMiB} MiB`);
  if (options.extraKernelArgs?.length) throw refuse('with other kernel arguments: the saved guest has booted');
  if (options.dataFolders?.length) throw refuse('with data folders: the saved guest has the data disks it was saved with');
  if (dataDisks.map((d) => d.path).join('\n') !== snapshot.dataDisks.map((d) => d.path).join('\n')) {
    throw refuse(`with data disks ${dataDisks.map((d) => d.path).join(', ') || 'none'}: it was saved with ${snapshot.dataDisks.map((d) => d.path).join(', ') || 'none'}`);
  }
  const image = options.image;
  const rootJournal = options.disk ?? inTmp('root.redolog');
  // Bochs copies the saved redolog onto the journal; one made here is writable whoever saved it.
  if (!(await exists(rootJournal))) await copySavedRootJournal(snapshot, rootJournal);
  return {
    cpuModel: snapshot.cpuModel,
    memoryMiB: snapshot.memoryMiB,
    romImage: options.bochs.romImage,
    vgaRomImage: options.bochs.vgaRomImage,
    bootDisk: { path: image.bochsBootDisk, bytes: await sizeOf(image.bochsBootDisk), journal: inTmp('boot.redolog'), mode: 'volatile', model: 'levelgate-boot' },
    rootDisk: { path: image.rootDisk, bytes: await sizeOf(image.rootDisk), journal: rootJournal, mode: 'undoable', model: ROOT_DISK_MODEL },
    dataDisks: await Promise.all(snapshot.dataDisks.map(async (d, i) => ({ path: d.path, bytes: await sizeOf(d.path), journal: inTmp(`data-${i}.redolog`), mode: 'volatile' as const, model: `lg-${d.name}` }))),
    bootInfo: snapshot.bootInfo,
    logFile: inTmp('bochs.log'),
    shell: true,
  };
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
