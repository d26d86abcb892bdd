// A full-distribution image as a machine of the QEMU platform, pinned to one level: the
// image boots through its own firmware (SeaBIOS, or OVMF with a variable store of the
// guest's own) and bootloader from a copy-on-write overlay (the image is never written),
// with levelgate's tools disk and NoCloud seed attached. Commands go through the image's
// own qemu-guest-agent, or where it has none through levelgate-agent started by
// cloud-init from the seed; once one answers, levelgate's data disks are mounted
// read-only and, through qemu-guest-agent, levelgate-agent is started and takes over.
import { chmod, copyFile } from 'node:fs/promises';
import path from 'node:path';
import type { CloudImage } from '../image/cloud/inspect.js';
import { START_AGENT_ARGV, TOOLS_DISK_NAME, type CloudSupport } from '../image/cloud/support.js';
import { DEFAULTS } from '../model/defaults.js';
import { imagePace, limitsNow } from '../model/limits.js';
import { GuestError } from '../util/errors.js';
import { AgentClient } from './agent-client.js';
import type { AgentChannel } from './agent-channel.js';
import { QgaClient, QGA_PORT_NAME } from './qga-client.js';
import { AGENT_PORT_NAME, type QemuFirmware } from './qemu-args.js';
import type { ChannelKind, QemuMachine, QemuStart, SettleContext } from './qemu-machine.js';
import { raceWith } from './race.js';

/** OVMF from Debian's ovmf package: code (read-only) and the template of a guest's variable store. */
export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

/**
 * The machine of `image`: `channel` when it is known (a restore takes the snapshot's
 * instead); otherwise whichever of qemu-guest-agent and levelgate-agent answers first.
 */
export function distributionMachine(image: CloudImage, support: CloudSupport, channel?: ChannelKind): QemuMachine {
  let commands: FirstToAnswer | undefined;
  const notes: string[] = [];
  return {
    label: `image ${image.name}`,
    backing: { path: image.path, format: image.format },
    firmware: (tmp, start) => imageFirmware(image, tmp, start),
    ownDisks: [{ name: TOOLS_DISK_NAME, path: support.toolsDisk }],
    seed: support.seed,
    // Both command ports always, so every snapshot's device layout fits every restore.
    qga: true,
    consoleTailLines: 80,
    imageDigest: image.digest,
    kernelRelease: 'unknown',
    // qemu-guest-agent cannot time a command: the host does, and kills over the channel.
    hostTimesCommands: true,
    defaultBootMs: () => {
      const { pace, given } = imagePace();
      return limitsNow(pace, given).bootMs;
    },
    async connect(sockets, open, start) {
      const wanted = start.kind === 'restore' ? start.snapshot.channel : channel;
      const candidates: { which: ChannelKind; channel: AgentChannel }[] = [];
      if (wanted !== 'agent') candidates.push({ which: 'qga', channel: new QgaClient(await open(sockets.qga!)) });
      if (wanted !== 'qga') candidates.push({ which: 'agent', channel: new AgentClient(await open(sockets.agent)) });
      commands = new FirstToAnswer(candidates);
      return commands;
    },
    async settle(guest, context) {
      await waitForChannel(commands!, image, channel, context);
      const mounted = await guest.exec(['sh', '-c', MOUNT_DATA_DISKS_SCRIPT], { timeoutMs: DEFAULTS.imageSetupCommandTimeoutMs });
      if (mounted.exitCode !== 0) throw new GuestError(`image ${image.name}: levelgate's data disks did not mount: ${mounted.stderr.trim() || `exit ${mounted.exitCode}`}`, { details: context.evidence() });
      if (commands!.which === 'qga') notes.push(...(await startAgent(guest, commands!, image, context)));
      commands!.closeOthers();
    },
    channelFacts: () => ({ which: commands?.which ?? 'agent', banner: commands?.banner ?? 'unknown', notes }),
  };
}

/** SeaBIOS (QEMU's default), or OVMF with a variable store of the guest's own (a snapshot's copy, or the template). */
async function imageFirmware(image: CloudImage, tmp: string, start: QemuStart): Promise<QemuFirmware> {
  if (image.firmware !== 'uefi') return { kind: 'bios' };
  const vars = start.kind === 'boot-for-snapshot' && start.vars ? start.vars : path.join(tmp, 'OVMF_VARS.fd');
  await copyFile(start.kind === 'restore' && start.snapshot.vars ? start.snapshot.vars : OVMF_VARS, vars).catch((error: unknown) => {
    throw new GuestError(`${image.name} boots through UEFI only, and OVMF is not installed (${OVMF_VARS})`, { cause: error, hint: 'apt-get install ovmf' });
  });
  // The guest's own store is written by the firmware (a snapshot's copy is published read-only).
  await chmod(vars, 0o644);
  return { kind: 'uefi', code: OVMF_CODE, vars };
}

/** Waits for the first channel to answer, with an error that says which agents were waited for. */
async function waitForChannel(commands: FirstToAnswer, image: CloudImage, channel: ChannelKind | undefined, context: SettleContext): Promise<void> {
  const waitedFor =
    channel === 'qga'
      ? `the image's qemu-guest-agent (port ${QGA_PORT_NAME})`
      : channel === 'agent'
        ? `levelgate-agent (port ${AGENT_PORT_NAME}, started by cloud-init from levelgate's NoCloud seed)`
        : `the image's qemu-guest-agent (port ${QGA_PORT_NAME}) or, without one, levelgate-agent (port ${AGENT_PORT_NAME}, started by cloud-init from levelgate's NoCloud seed)`;
  await raceWith(commands.ready(), context.death, {
    timeoutMs: Math.max(0, context.deadline - performance.now()),
    onTimeout: () =>
      new GuestError(`image ${image.name} did not answer at ${context.level}: waited ${Math.round(context.bootTimeoutMs / 1000)} s for ${waitedFor}${commands.problems.length ? ` (${commands.problems.join('; ')})` : ''}`, {
        details: context.evidence(),
        hint: `the console tail shows how far the boot got; \`levelgate doctor --image ${image.path}\` says what the image has (an image needs qemu-guest-agent, or cloud-init to start levelgate's agent)`,
      }),
    ...(context.signal ? { signal: context.signal } : {}),
  });
}

/**
 * Through the image's qemu-guest-agent, starts levelgate-agent from the tools disk as a
 * service of the image's init, and moves commands to it: qemu-guest-agent starts every
 * command through glib and returns its output only at the end (150 ms for \`true\` here,
 * against 27 ms), while levelgate-agent streams output, times commands in the guest,
 * and wakes a restored guest in one exchange. Where it cannot start (no systemd), the
 * commands stay with qemu-guest-agent. Returns the notes on how the channel came to be.
 */
async function startAgent(guest: Parameters<QemuMachine['settle']>[0], commands: FirstToAnswer, image: CloudImage, context: SettleContext): Promise<string[]> {
  const agent = commands.candidate('agent');
  if (!agent) return [];
  const started = await guest.exec(START_AGENT_ARGV, { timeoutMs: DEFAULTS.imageSetupCommandTimeoutMs });
  if (started.exitCode !== 0) return [`levelgate-agent did not start through qemu-guest-agent (${started.stderr.trim().split('\n').at(-1) ?? `exit ${started.exitCode}`}): commands stay with qemu-guest-agent`];
  await raceWith(agent.ready(), context.death, {
    timeoutMs: Math.max(10_000, Math.min(60_000, context.deadline - performance.now())),
    onTimeout: () => new GuestError(`image ${image.name}: levelgate-agent, started through qemu-guest-agent, did not answer on port ${AGENT_PORT_NAME}`),
  });
  const qga = commands.banner ?? 'qemu-guest-agent';
  commands.switchTo('agent');
  return [`started through ${qga}`];
}

/** The image's qemu-guest-agent or levelgate-agent, whichever answers (an image has one of them); then that one. */
class FirstToAnswer implements AgentChannel {
  #chosen: AgentChannel | undefined;
  #which: ChannelKind | undefined;
  readonly #candidates: readonly { which: ChannelKind; channel: AgentChannel }[];
  constructor(candidates: readonly { which: ChannelKind; channel: AgentChannel }[]) {
    this.#candidates = candidates;
  }
  get which(): ChannelKind | undefined {
    return this.#which;
  }
  get banner(): string | undefined {
    return this.#chosen?.banner;
  }
  /** Why a channel that answered was not usable (a qemu-guest-agent with guest-exec disabled). */
  readonly problems: string[] = [];
  async ready(): Promise<string> {
    if (this.#chosen) return this.#chosen.ready();
    const attempt = async (c: { which: ChannelKind; channel: AgentChannel }) => {
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
  candidate(which: ChannelKind): AgentChannel | undefined {
    return this.#candidates.find((c) => c.which === which)?.channel;
  }
  /** From now on every call goes to `which`; the other channel is closed. */
  switchTo(which: ChannelKind): void {
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
    if (!this.#chosen && this.#candidates.length === 1) [{ channel: this.#chosen, which: this.#which }] = this.#candidates as [{ which: ChannelKind; channel: AgentChannel }];
    return this.#the().thaw();
  }
  fail(error: Error): void {
    for (const c of this.#candidates) c.channel.fail(error);
  }
  close(): void {
    for (const c of this.#candidates) c.channel.close();
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
