// A full-distribution image as a guest, pinned to one level: the image boots through its
// own firmware path and bootloader from a copy-on-write overlay (the image is never
// written), with the CPU pinned exactly as the default guest's and no network device.
// Commands go through the image's own qemu-guest-agent, or where it has none through
// levelgate-agent started by cloud-init from levelgate's NoCloud seed; levelgate's data
// disks are mounted read-only, then the level is proven as in the default guest. A
// booted, settled guest can be saved and restored like the default guest's snapshots.
import { chmod, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULTS } from '../model/defaults.js';
import type { CloudImage } from '../image/cloud/inspect.js';
import { START_AGENT_ARGV, TOOLS_DISK_NAME, type CloudSupport } from '../image/cloud/support.js';
import type { LevelProof } from '../levels/proof.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import { hostStretch, imagePace, limitsFor } from '../model/limits.js';
import { GuestError } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import type { AgentChannel } from './agent-channel.js';
import { AgentGuest, bootWith, describeEvidence, guestDeath, spawnEmulator, stopEmulator, type AgentGuestParts, type BootContext } from './agent-guest.js';
import { connectWhenListening } from './connect.js';
import { GuestConsole } from './console.js';
import { quoteCommand, type GuestBootOptions, type GuestFacts } from './guest.js';
import { QgaClient, QGA_PORT_NAME } from './qga-client.js';
import { createOverlay, loadIncoming, QEMU_BINARY, qemuVersion, saveDeviceState } from './qemu-guest.js';
import { AGENT_PORT_NAME, buildQemuArgs, type QemuFirmware, type QemuMachineSpec } from './qemu-args.js';
import { type QemuAccel } from '../model/accel.js';
import { QmpClient } from './qmp-client.js';
import { raceWith, settlesWithin } from './race.js';

/** Which command channel a guest uses: the image's qemu-guest-agent, or levelgate-agent from the seed. */
export type CloudChannel = 'qga' | 'agent';

/** OVMF from Debian's ovmf package: code (read-only) and the template of a guest's variable store. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/** A distribution image's boot limit for the host's load now (LEVELGATE_IMAGE_BOOT_TIMEOUT as given). */
export function imageBootMs(stretch = hostStretch()): number {
  const { pace, given } = imagePace();
  return limitsFor(pace, stretch, given).bootMs;
}

export interface CloudGuestOptions extends Omit<GuestBootOptions, 'image' | 'extraKernelArgs' | 'cpu'> {
  readonly image: CloudImage;
  readonly support: CloudSupport;
  readonly accel: QemuAccel;
  readonly cpu?: string;
  /** The channel, when known (a restore: the snapshot's); otherwise the first to answer. */
  readonly channel?: CloudChannel;
}

/** What a restore needs: the snapshot's files, its proof and channel. */
export interface CloudSnapshotFiles {
  readonly ram: string;
  readonly state: string;
  readonly disk: string;
  /** UEFI images: the variable store as it was saved. */
  readonly vars?: string;
  readonly proof: LevelProof;
  readonly channel: CloudChannel;
}

type Start = { readonly kind: 'boot' } | { readonly kind: 'boot-for-snapshot'; readonly ram: string; readonly vars?: string } | { readonly kind: 'restore'; readonly snapshot: CloudSnapshotFiles };

/** The image's qemu-guest-agent or levelgate-agent, whichever answers (an image has one of them); then that one. */
class FirstToAnswer implements AgentChannel {
  #chosen: AgentChannel | undefined;
  #which: CloudChannel | undefined;
  readonly #candidates: readonly { which: CloudChannel; channel: AgentChannel }[];
  constructor(candidates: readonly { which: CloudChannel; channel: AgentChannel }[]) {
    this.#candidates = candidates;
  }
  get which(): CloudChannel | undefined {
    return this.#which;
  }
  get banner(): string | undefined {
    return this.#chosen?.banner;
  }
  /** Why a channel that answered was not usable (a qemu-guest-agent with guest-exec disabled). */
  readonly problems: string[] = [];
  async ready(): Promise<string> {
    if (this.#chosen) return this.#chosen.ready();
    const attempt = async (c: { which: CloudChannel; channel: AgentChannel }) => {
      try {
        return { ...c, banner: await c.channel.ready() };
      } catch (error) {
        this.problems.push(error instanceof Error ? error.message : String(error));
        throw error;
      }
    };
    const { which, channel, banner } = await Promise.any(this.#candidates.map(attempt)).catch((error: unknown) => {
      throw error instanceof AggregateError ? (error.errors[0] as Error) : error;
    });
    this.#chosen = channel;
    this.#which = which;
    return banner;
  }
  /** The other channel, when there is one (levelgate-agent, once qemu-guest-agent has started it). */
  candidate(which: CloudChannel): AgentChannel | undefined {
    return this.#candidates.find((c) => c.which === which)?.channel;
  }
  /** From now on every call goes to `which`; the other channel is closed. */
  switchTo(which: CloudChannel): void {
    const next = this.#candidates.find((c) => c.which === which);
    if (!next) throw new Error(`no ${which} channel to switch to`);
    for (const c of this.#candidates) if (c !== next) c.channel.close();
    this.#chosen = next.channel;
    this.#which = which;
  }
  /** Once one channel answered, the others are closed (a boot that stays on the first). */
  closeOthers(): void {
    for (const c of this.#candidates) if (c.channel !== this.#chosen) c.channel.close();
  }
  #the(): AgentChannel {
    if (!this.#chosen) throw new Error('no command channel has answered yet');
    return this.#chosen;
  }
  exec(...args: Parameters<AgentChannel['exec']>) {
    return this.#the().exec(...args);
  }
  kill(): void {
    this.#chosen?.kill();
  }
  powerOff(): Promise<void> {
    return this.#the().powerOff();
  }
  /** A restore knows its channel (the snapshot's): the only candidate is the one. */
  thaw(): Promise<string> {
    if (!this.#chosen && this.#candidates.length === 1) [{ channel: this.#chosen, which: this.#which }] = this.#candidates as [{ which: CloudChannel; channel: AgentChannel }];
    return this.#the().thaw();
  }
  fail(error: Error): void {
    for (const c of this.#candidates) c.channel.fail(error);
  }
  close(): void {
    for (const c of this.#candidates) c.channel.close();
  }
}

export class CloudGuest extends AgentGuest {
  readonly argv: readonly string[];
  readonly spec: QemuMachineSpec;
  readonly image: CloudImage;
  readonly #qmp: () => QmpClient | undefined;
  readonly #channel: () => CloudChannel | undefined;
  readonly #banner: () => string | undefined;
  readonly #death: () => Promise<never>;
  readonly #notes: string[] = [];

  private constructor(parts: AgentGuestParts, argv: readonly string[], spec: QemuMachineSpec, image: CloudImage, qmp: () => QmpClient | undefined, channel: () => CloudChannel | undefined) {
    const agent = parts.agent;
    const death = parts.death;
    super(parts);
    this.argv = argv;
    this.spec = spec;
    this.image = image;
    this.#qmp = qmp;
    this.#channel = channel;
    this.#banner = () => agent.banner;
    this.#death = () => death;
  }

  /** The channel that answered. */
  get channel(): CloudChannel | undefined {
    return this.#channel();
  }

  /** What the channel's agent calls itself (its version). */
  get agentBanner(): string {
    return this.#banner() ?? 'unknown';
  }

  static boot(options: CloudGuestOptions): Promise<CloudGuest> {
    return CloudGuest.#start(options, { kind: 'boot' });
  }

  /** Boots with the guest's RAM in `ram` (shared mapping) and, for UEFI, its variable store in `vars`, for saveSnapshot(). */
  static bootForSnapshot(options: CloudGuestOptions, ram: string, vars?: string): Promise<CloudGuest> {
    return CloudGuest.#start(options, { kind: 'boot-for-snapshot', ram, ...(vars ? { vars } : {}) });
  }

  static restore(options: CloudGuestOptions, snapshot: CloudSnapshotFiles): Promise<CloudGuest> {
    return CloudGuest.#start({ ...options, channel: snapshot.channel }, { kind: 'restore', snapshot });
  }

  static #start(options: CloudGuestOptions, start: Start): Promise<CloudGuest> {
    return bootWith(options, async (context: BootContext) => {
      const { id, stack, started, tmp, dataDisks } = context;
      const { image, support } = options;
      const overlay = options.disk ?? path.join(tmp, 'root.qcow2');
      if (!options.disk) {
        if (start.kind === 'restore') await createOverlay(start.snapshot.disk, overlay, options.signal, 'qcow2');
        else await createOverlay(image.path, overlay, options.signal, image.format);
      }
      let firmware: QemuFirmware = { kind: 'bios' };
      if (image.firmware === 'uefi') {
        const vars = start.kind === 'boot-for-snapshot' && start.vars ? start.vars : path.join(tmp, 'OVMF_VARS.fd');
        await copyFile(start.kind === 'restore' && start.snapshot.vars ? start.snapshot.vars : OVMF_VARS, vars).catch((error: unknown) => {
          throw new GuestError(`${image.name} boots through UEFI only, and OVMF is not installed (${OVMF_VARS})`, { cause: error, hint: 'apt-get install ovmf' });
        });
        // The guest's own store is written by the firmware (a snapshot's copy is published read-only).
        await chmod(vars, 0o644);
        firmware = { kind: 'uefi', code: OVMF_CODE, vars };
      }
      const spec: QemuMachineSpec = {
        name: id,
        accel: options.accel,
        cpu: options.cpu ?? qemuCpuArgument(options.level),
        memoryMiB: options.memoryMiB ?? DEFAULTS.memoryMiB,
        firmware,
        rootDisk: overlay,
        dataDisks: [{ name: TOOLS_DISK_NAME, path: support.toolsDisk }, ...dataDisks],
        seed: support.seed,
        qmpSocket: path.join(tmp, 'qmp.sock'),
        // Both command ports always, so every snapshot's device layout fits every restore.
        channel: { agent: path.join(tmp, 'agent.sock'), qga: path.join(tmp, 'qga.sock'), shell: path.join(tmp, 'shell.sock') },
        ...(start.kind === 'boot-for-snapshot' ? { memoryFile: { path: start.ram, share: true } } : {}),
        ...(start.kind === 'restore' ? { memoryFile: { path: start.snapshot.ram, share: false }, incoming: true } : {}),
      };
      const argv = buildQemuArgs(spec);
      const channelSockets = spec.channel!;
      const guestConsole = new GuestConsole(options.consoleLog ?? path.join(tmp, 'console.log'), 80);
      stack.defer('close console log', () => guestConsole.close());
      const { child, exited } = spawnEmulator(QEMU_BINARY, argv, { stdin: 'ignore', signal: options.signal });
      let stderrText = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        guestConsole.push(chunk);
        options.onConsoleData?.(chunk);
      });
      child.stderr!.on('data', (chunk: Buffer) => (stderrText = (stderrText + chunk.toString('utf8')).slice(-16_384)));
      let tearingDown = false;
      let qmp: QmpClient | undefined;
      stack.defer('stop QEMU', async () => {
        tearingDown = true;
        await stopEmulator(child, exited, () => (qmp ? settlesWithin(qmp.execute('quit'), 1000) : undefined), 2000);
      });
      const evidence = () => describeEvidence('QEMU', stderrText, guestConsole);
      const death = guestDeath({
        id,
        exited,
        console: guestConsole,
        evidence,
        isTearingDown: () => tearingDown,
        describeExit: (how) => `QEMU ${how} (guest ${id}: image ${image.name}, level ${options.level}, ${options.accel})`,
        hint: () => (/TCG doesn't support requested feature/.test(stderrText) ? 'TCG cannot emulate this level (AVX-512)' : undefined),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const bootTimeoutMs = options.bootTimeoutMs ?? imageBootMs();
      const deadline = started + bootTimeoutMs;
      const qmpClient = await raceWith(connectWhenListening(spec.qmpSocket!, exited, deadline, 'QEMU').then((s) => (s.destroy(), QmpClient.connect(spec.qmpSocket!))), death);
      qmp = qmpClient;
      stack.defer('close QMP', () => qmpClient.close());
      if (start.kind === 'restore') {
        await raceWith(loadIncoming(qmpClient, start.snapshot.state, deadline), death, {
          timeoutMs: Math.max(0, deadline - performance.now()),
          onTimeout: () => new GuestError(`guest ${id}: the snapshot's state did not load within ${Math.round(bootTimeoutMs / 1000)} s`, { details: evidence() }),
        });
      }
      const candidates: { which: CloudChannel; channel: AgentChannel }[] = [];
      if (options.channel !== 'agent') candidates.push({ which: 'qga', channel: new QgaClient(await raceWith(connectWhenListening(channelSockets.qga!, exited, deadline, 'QEMU'), death)) });
      if (options.channel !== 'qga') candidates.push({ which: 'agent', channel: new AgentClient(await raceWith(connectWhenListening(channelSockets.agent, exited, deadline, 'QEMU'), death)) });
      const channel = new FirstToAnswer(candidates);
      stack.defer('close the command channels', () => channel.close());

      const facts: GuestFacts = {
        id,
        emulator: 'QEMU',
        emulatorVersion: await qemuVersion(QEMU_BINARY),
        accel: options.accel,
        cpu: spec.cpu,
        requestedLevel: options.level,
        imageDigest: image.digest,
        kernelRelease: 'unknown',
      };
      const guest = new CloudGuest(
        {
          facts,
          console: guestConsole,
          agent: channel,
          stack,
          exited,
          death,
          evidence,
          commandLine: quoteCommand([QEMU_BINARY, ...argv]),
          proofHint: `QEMU was started with -cpu ${spec.cpu} (${options.accel}) on image ${image.name}`,
          // qemu-guest-agent cannot time a command: the host does, and kills over the channel.
          hostTimesCommands: true,
          shell: { socket: channelSockets.shell!, device: 'virtio' },
          level: options.level,
          ...(options.commandTimeoutMs !== undefined ? { commandTimeoutMs: options.commandTimeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        },
        argv,
        spec,
        image,
        () => qmp,
        () => channel.which,
      );
      if (start.kind === 'restore') {
        await guest.becomeRestored(started, deadline, bootTimeoutMs, start.snapshot.proof);
        return guest;
      }
      const waitedFor =
        options.channel === 'qga'
          ? `the image's qemu-guest-agent (port ${QGA_PORT_NAME})`
          : options.channel === 'agent'
            ? `levelgate-agent (port ${AGENT_PORT_NAME}, started by cloud-init from levelgate's NoCloud seed)`
            : `the image's qemu-guest-agent (port ${QGA_PORT_NAME}) or, without one, levelgate-agent (port ${AGENT_PORT_NAME}, started by cloud-init from levelgate's NoCloud seed)`;
      await raceWith(channel.ready(), death, {
        timeoutMs: Math.max(0, deadline - performance.now()),
        onTimeout: () =>
          new GuestError(`image ${image.name} did not answer at ${options.level}: waited ${Math.round(bootTimeoutMs / 1000)} s for ${waitedFor}${channel.problems.length ? ` (${channel.problems.join('; ')})` : ''}`, {
            details: evidence(),
            hint: `the console tail shows how far the boot got; \`levelgate doctor --image ${image.path}\` says what the image has (an image needs qemu-guest-agent, or cloud-init to start levelgate's agent)`,
          }),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const mounted = await guest.exec(['sh', '-c', MOUNT_DATA_DISKS_SCRIPT], { timeoutMs: 60_000 });
      if (mounted.exitCode !== 0) throw new GuestError(`image ${image.name}: levelgate's data disks did not mount: ${mounted.stderr.trim() || `exit ${mounted.exitCode}`}`, { details: evidence() });
      if (channel.which === 'qga') await guest.#startAgent(channel, deadline);
      channel.closeOthers();
      await guest.becomeReady(started, deadline, bootTimeoutMs);
      return guest;
    });
  }

  /**
   * Through the image's qemu-guest-agent, starts levelgate-agent from the tools disk as a
   * service of the image's init, and moves commands to it: qemu-guest-agent starts every
   * command through glib and returns its output only at the end (150 ms for \`true\` here,
   * against 27 ms), while levelgate-agent streams output, times commands in the guest,
   * and wakes a restored guest in one exchange. Where it cannot start (no systemd), the
   * commands stay with qemu-guest-agent.
   */
  async #startAgent(channel: FirstToAnswer, deadline: number): Promise<void> {
    const agent = channel.candidate('agent');
    if (!agent) return;
    const started = await this.exec(START_AGENT_ARGV, { timeoutMs: 60_000 });
    if (started.exitCode !== 0) {
      this.#notes.push(`levelgate-agent did not start through qemu-guest-agent (${started.stderr.trim().split('\n').at(-1) ?? `exit ${started.exitCode}`}): commands stay with qemu-guest-agent`);
      return;
    }
    await raceWith(agent.ready(), this.#death(), {
      timeoutMs: Math.max(10_000, Math.min(60_000, deadline - performance.now())),
      onTimeout: () => new GuestError(`image ${this.image.name}: levelgate-agent, started through qemu-guest-agent, did not answer on port ${AGENT_PORT_NAME}`),
    });
    const qga = channel.banner ?? 'qemu-guest-agent';
    channel.switchTo('agent');
    this.#notes.push(`started through ${qga}`);
  }

  /** How the command channel came to be, for the image's facts. */
  get channelNotes(): readonly string[] {
    return this.#notes;
  }

  /** Saves this guest (booted with bootForSnapshot): QEMU writes its device state to `state` and exits. */
  async saveSnapshot(state: string): Promise<void> {
    await saveDeviceState(this.#qmp(), this.facts.id, state);
    await this.dispose();
  }
}

/** Mounts every levelgate data disk (virtio serial lg-NAME) read-only: the tools at /usr/lib/levelgate, the others at /mnt/NAME. */
export const MOUNT_DATA_DISKS_SCRIPT = [
  'for s in /sys/block/vd*/serial; do',
  '  [ -r "$s" ] || continue; read -r name < "$s" || [ -n "$name" ]',
  '  case "$name" in lg-*) ;; *) continue ;; esac',
  '  dev=${s#/sys/block/}; dev=/dev/${dev%/serial}; n=${name#lg-}',
  '  if [ "$n" = levelgate ]; then dir=/usr/lib/levelgate; else dir=/mnt/$n; fi',
  '  mountpoint -q "$dir" && continue',
  '  mkdir -p "$dir" && mount -t ext4 -o ro,noload "$dev" "$dir" || { echo "cannot mount data disk $name at $dir" >&2; exit 1; }',
  'done',
].join('\n');
