// Lowers a QEMU machine spec to QEMU's argument array, in one place, for every machine
// of the QEMU platform: levelgate's own guest (its kernel entered directly), a
// distribution image (booted through SeaBIOS or OVMF from its own disk, with a NoCloud
// seed and the image's qemu-guest-agent port) and the probe (no disk, no channel).
// Pure: golden tests pin the exact arrays.
import { QGA_PORT_NAME } from './qga-client.js';

import type { QemuAccel } from '../model/accel.js';
import type { DataDisk } from '../model/guest.js';

/**
 * How the machine starts: levelgate's kernel entered at its PVH entry point (no
 * firmware, no bootloader), or a disk's own bootloader through SeaBIOS (QEMU's default)
 * or OVMF (its code read-only, a variable store of this guest's own).
 */
export type QemuFirmware =
  | { readonly kind: 'kernel'; readonly kernel: string; readonly initrd: string; readonly kernelArgs: readonly string[] }
  | { readonly kind: 'bios' }
  | { readonly kind: 'uefi'; readonly code: string; readonly vars: string };

/** The host sockets of the guest's command ports: levelgate-agent's, the image's qemu-guest-agent's, the interactive shell's. */
export interface QemuChannel {
  readonly agent: string;
  readonly qga?: string;
  /** A second port for an interactive shell (repro --keep). */
  readonly shell?: string;
}

export interface QemuMachineSpec {
  /** Unique per guest; also tags the process (`-name`) so leaks can be found. */
  readonly name: string;
  readonly accel: QemuAccel;
  /** The `-cpu` argument (harness/levels/qemu-cpu.ts). */
  readonly cpu: string;
  readonly memoryMiB: number;
  readonly firmware: QemuFirmware;
  /** The guest's own copy-on-write overlay (qcow2); absent for a probe, which boots the initramfs only. */
  readonly rootDisk?: string;
  /** Read-only, serial lg-NAME (a distribution image's tools disk first). */
  readonly dataDisks: readonly DataDisk[];
  /** A distribution image's NoCloud seed (ISO 9660, label cidata), read-only. */
  readonly seed?: string;
  /** Absent for a probe: the guest then talks on its console only. */
  readonly channel?: QemuChannel;
  readonly qmpSocket?: string;
  /**
   * Guest RAM in a file: `share` maps it shared (a snapshot being made writes its RAM
   * there) or private (a restore: copy-on-write, the file is never written).
   */
  readonly memoryFile?: { readonly path: string; readonly share: boolean };
  /** Wait for an incoming migration (a snapshot restore) instead of booting. */
  readonly incoming?: boolean;
}

/** The agent finds its port by this name (agent.c PORT_NAME). */
export const AGENT_PORT_NAME = 'levelgate.agent';
/** The interactive shell's port (repro --keep). */
export const SHELL_PORT_NAME = 'levelgate.shell';
/** Data disks carry this serial prefix; the guest's init mounts them read-only. */
export const DATA_DISK_SERIAL_PREFIX = 'lg-';

/** QEMU option values escape a comma by doubling it. */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

const socket = (id: string, file: string) => ['-chardev', `socket,id=${id},path=${qemuOptValue(file)},server=on,wait=off`];
const port = (id: string, name: string, file: string) => [...socket(id, file), '-device', `virtserialport,bus=vser0.0,chardev=${id},name=${name}`];

function firmwareArgs(firmware: QemuFirmware): string[] {
  switch (firmware.kind) {
    case 'kernel':
      return ['-kernel', firmware.kernel, '-initrd', firmware.initrd, '-append', firmware.kernelArgs.join(' ')];
    case 'bios':
      return [];
    case 'uefi':
      return ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${qemuOptValue(firmware.code)}`, '-drive', `if=pflash,format=raw,unit=1,file=${qemuOptValue(firmware.vars)}`];
  }
}

export function buildQemuArgs(spec: QemuMachineSpec): string[] {
  const { channel } = spec;
  const fromDisk = spec.firmware.kind !== 'kernel';
  return [
    '-name', `${spec.name},debug-threads=on`,
    // q35 never hung in ~100 TCG boots; microvm saves 0.15 s but hangs without a PIT/HPET.
    '-machine', spec.memoryFile ? 'q35,memory-backend=ram0' : 'q35',
    ...(spec.memoryFile ? ['-object', `memory-backend-file,id=ram0,size=${spec.memoryMiB}M,mem-path=${qemuOptValue(spec.memoryFile.path)},share=${spec.memoryFile.share ? 'on' : 'off'}`] : []),
    '-accel', spec.accel,
    '-cpu', spec.cpu,
    '-smp', '1',
    '-m', String(spec.memoryMiB),
    // Nothing implicit: no default devices, no config files, no display, no NIC (its
    // boot ROM costs ~1.5 s, and guests have no network unless a scenario asks).
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-nic', 'none',
    // A guest reboot or panic ends QEMU instead of looping.
    '-no-reboot',
    ...firmwareArgs(spec.firmware),
    // Serial console on QEMU's stdout: the harness logs it and watches it live.
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    ...(spec.qmpSocket ? [...socket('qmp', spec.qmpSocket), '-mon', 'chardev=qmp,mode=control'] : []),
    ...(channel
      ? [
          '-device', 'virtio-serial-pci,id=vser0',
          ...port('agent', AGENT_PORT_NAME, channel.agent),
          ...(channel.qga ? port('qga', QGA_PORT_NAME, channel.qga) : []),
          ...(channel.shell ? port('shell', SHELL_PORT_NAME, channel.shell) : []),
        ]
      : []),
    // The root disk comes first so the guest sees it as /dev/vda (and a firmware boots
    // it). cache=unsafe: the overlay is scratch, and package managers fsync a lot.
    ...(spec.rootDisk
      ? ['-drive', `if=none,id=root,file=${qemuOptValue(spec.rootDisk)},format=qcow2,cache=unsafe,discard=unmap`, '-device', `virtio-blk-pci,drive=root,serial=levelgate-root${fromDisk ? ',bootindex=0' : ''}`]
      : []),
    ...spec.dataDisks.flatMap((disk, i) => [
      '-drive', `if=none,id=data${i},file=${qemuOptValue(disk.path)},format=raw,readonly=on`,
      '-device', `virtio-blk-pci,drive=data${i},serial=${DATA_DISK_SERIAL_PREFIX}${disk.name}`,
    ]),
    ...(spec.seed ? ['-drive', `if=none,id=seed,file=${qemuOptValue(spec.seed)},format=raw,readonly=on`, '-device', 'virtio-blk-pci,drive=seed,serial=levelgate-seed'] : []),
    // A distribution's kernel: a new VM generation ID on every start reseeds a restored
    // guest's RNG (levelgate's own guest is reseeded by its agent when woken).
    ...(fromDisk ? ['-device', 'vmgenid,guid=auto'] : []),
    ...(spec.incoming ? ['-incoming', 'defer'] : []),
  ];
}
