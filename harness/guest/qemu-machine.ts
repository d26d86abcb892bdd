// What differs between the machines of the QEMU platform, as one small strategy record
// (kola: an ISO install is another machine of the QEMU platform, not another platform):
// the disk an overlay is made over, the firmware, the disks and seed it brings, the
// command channel and what a boot does between the channel's first word and the proof.
// levelgate's own machine is here; a distribution image's is distribution-machine.ts.
import type { Socket } from 'node:net';
import type { ImageArtifacts } from '../image/build.js';
import type { LevelProof } from '../levels/proof.js';
import type { LevelName } from '../levels/table.js';
import type { CpuTarget } from '../levels/targets.js';
import type { QemuAccel } from '../model/accel.js';
import { DEFAULTS } from '../model/defaults.js';
import type { DataDisk } from '../model/guest.js';
import { limitsNow } from '../model/limits.js';
import { AgentClient } from './agent-client.js';
import type { AgentChannel } from './agent-channel.js';
import type { CommandResult, ExecOptions } from './guest.js';
import { KERNEL_ARGS } from './kernel-args.js';
import type { QemuChannel, QemuFirmware } from './qemu-args.js';

/** Which command channel a guest uses: levelgate-agent, or a distribution image's own qemu-guest-agent. */
export type ChannelKind = 'agent' | 'qga';

/** What a restore needs: the files a snapshot keeps, the proof made when it was taken, and its channel. */
export interface QemuSnapshotFiles {
  /** Guest RAM (mapped privately: never written). */
  readonly ram: string;
  /** Device state (a migration stream without RAM). */
  readonly state: string;
  /** The root disk as it was when saved (qcow2 over the base image); cells write overlays on it. */
  readonly disk: string;
  /** UEFI machines: the variable store as it was saved. */
  readonly vars?: string;
  readonly proof: LevelProof;
  /** The channel the saved guest answered on (levelgate's own machine: the agent). */
  readonly channel?: ChannelKind;
}

/** How a QEMU guest starts: a cold boot, a boot whose RAM (and UEFI store) lives in files to be saved, or a restore. */
export type QemuStart =
  | { readonly kind: 'boot' }
  | { readonly kind: 'boot-for-snapshot'; readonly ram: string; readonly vars?: string }
  | { readonly kind: 'restore'; readonly snapshot: QemuSnapshotFiles };

/** Which agent answers, what it calls itself, and how it came to answer. */
export interface ChannelFacts {
  readonly which: ChannelKind;
  readonly banner: string;
  readonly notes: readonly string[];
}

/** What a machine's settle step gets: the booted guest's commands and the boot's limits. */
export interface SettleContext {
  readonly deadline: number;
  readonly bootTimeoutMs: number;
  readonly death: Promise<never>;
  readonly evidence: () => string;
  readonly level: LevelName;
  readonly signal?: AbortSignal;
}

export interface QemuMachine {
  /** What boots, for messages ("image debian-12"); empty for levelgate's own guest. */
  readonly label: string;
  /** The disk a fresh overlay is made over. */
  readonly backing: { readonly path: string; readonly format: 'raw' | 'qcow2' };
  /** The firmware field of the machine spec; `tmp` holds a variable store of the guest's own. */
  firmware(tmp: string, start: QemuStart): Promise<QemuFirmware>;
  /** Disks the machine brings before the run's data disks (a distribution's tools disk). */
  readonly ownDisks: readonly DataDisk[];
  /** A NoCloud seed (ISO 9660, label cidata). */
  readonly seed?: string;
  /** Whether the image's qemu-guest-agent port is attached beside levelgate-agent's. */
  readonly qga: boolean;
  /** Console lines kept for evidence (a distribution's boot says more). */
  readonly consoleTailLines?: number;
  readonly imageDigest: string;
  readonly kernelRelease: string;
  /** The channel cannot time commands (qemu-guest-agent): the host times them and kills over the channel. */
  readonly hostTimesCommands: boolean;
  /** The boot limit when the run gives none. */
  defaultBootMs(accel: QemuAccel): number;
  /** Opens the command channel on the machine's ports (`open` connects a socket once QEMU listens). */
  connect(sockets: QemuChannel, open: (socket: string) => Promise<Socket>, start: QemuStart): Promise<AgentChannel>;
  /** What a boot does after its channel exists and before the level proof (a distribution mounts its disks). */
  settle(guest: { exec(argv: readonly string[], options?: ExecOptions): Promise<CommandResult> }, context: SettleContext): Promise<void>;
  channelFacts(): ChannelFacts;
}

/** levelgate's own guest: its kernel entered at the PVH entry point, its agent in its initramfs. */
export function levelgateMachine(image: ImageArtifacts, options: { readonly target?: CpuTarget; readonly extraKernelArgs?: readonly string[] }): QemuMachine {
  let agent: AgentClient | undefined;
  return {
    label: '',
    backing: { path: image.rootDisk, format: 'raw' },
    firmware: async () => ({ kind: 'kernel', kernel: image.kernel, initrd: image.initrd, kernelArgs: [...KERNEL_ARGS, ...(options.target?.kernelArgs ?? []), ...(options.extraKernelArgs ?? [])] }),
    ownDisks: [],
    qga: false,
    imageDigest: image.digest,
    kernelRelease: image.manifest.kernel.release,
    hostTimesCommands: false,
    // Without a limit from the run, this backend's for the host's load now.
    defaultBootMs: (accel) => limitsNow(DEFAULTS.backends[accel]).bootMs,
    connect: async (sockets, open) => (agent = new AgentClient(await open(sockets.agent))),
    settle: async () => {},
    channelFacts: () => ({ which: 'agent', banner: agent?.banner ?? 'unknown', notes: [] }),
  };
}
