// Lowers a QEMU guest's typed description to QEMU's argument array, in one place.
// Pure: golden tests pin the exact array.

import type { QemuAccel } from '../model/accel.js';
import type { DataDisk } from '../model/guest.js';
export type { DataDisk } from '../model/guest.js';

export interface QemuMachineSpec {
  /** Unique per guest; also tags the process (`-name`) so leaks can be found. */
  readonly name: string;
  readonly accel: QemuAccel;
  /** The `-cpu` argument (harness/levels/qemu-cpu.ts). */
  readonly cpu: string;
  readonly memoryMiB: number;
  /** The uncompressed ELF kernel: QEMU enters its PVH entry point directly. */
  readonly kernel: string;
  readonly initrd: string;
  readonly kernelArgs: readonly string[];
  /** The guest's own copy-on-write overlay (qcow2); absent for a probe, which boots the initramfs only. */
  readonly rootDisk?: string;
  readonly dataDisks: readonly DataDisk[];
  /** Absent for a probe: the guest then talks on its console only. */
  readonly agentSocket?: string;
  readonly qmpSocket?: string;
  /** A second virtio-serial port for an interactive shell (repro --keep). */
  readonly shellSocket?: string;
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

export function buildQemuArgs(spec: QemuMachineSpec): string[] {
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
    '-kernel', spec.kernel,
    '-initrd', spec.initrd,
    '-append', spec.kernelArgs.join(' '),
    // Serial console on QEMU's stdout: the harness logs it and watches it live.
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    ...(spec.qmpSocket ? ['-chardev', `socket,id=qmp,path=${qemuOptValue(spec.qmpSocket)},server=on,wait=off`, '-mon', 'chardev=qmp,mode=control'] : []),
    ...(spec.agentSocket
      ? [
          '-device', 'virtio-serial-pci,id=vser0',
          '-chardev', `socket,id=agent,path=${qemuOptValue(spec.agentSocket)},server=on,wait=off`,
          '-device', `virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_PORT_NAME}`,
        ]
      : []),
    ...(spec.shellSocket
      ? ['-chardev', `socket,id=shell,path=${qemuOptValue(spec.shellSocket)},server=on,wait=off`, '-device', `virtserialport,bus=vser0.0,chardev=shell,name=${SHELL_PORT_NAME}`]
      : []),
    // The root disk comes first so the guest sees it as /dev/vda. cache=unsafe: the
    // overlay is scratch, and package managers fsync a lot.
    ...(spec.rootDisk
      ? ['-drive', `if=none,id=root,file=${qemuOptValue(spec.rootDisk)},format=qcow2,cache=unsafe,discard=unmap`, '-device', 'virtio-blk-pci,drive=root,serial=levelgate-root']
      : []),
    ...spec.dataDisks.flatMap((disk, i) => [
      '-drive', `if=none,id=data${i},file=${qemuOptValue(disk.path)},format=raw,readonly=on`,
      '-device', `virtio-blk-pci,drive=data${i},serial=${DATA_DISK_SERIAL_PREFIX}${disk.name}`,
    ]),
    ...(spec.incoming ? ['-incoming', 'defer'] : []),
  ];
}
