// Lowers a full-distribution image guest to QEMU's argument array, in one place (pure:
// golden tests pin it). The image boots through its firmware and bootloader (SeaBIOS,
// or OVMF for UEFI-only images) from its own copy-on-write overlay; the CPU is pinned
// exactly as for the default guest; no network device. Both command ports are always
// attached (the image's qemu-guest-agent and levelgate.agent), so every snapshot's
// device layout fits every restore.
import { AGENT_PORT_NAME, DATA_DISK_SERIAL_PREFIX, qemuOptValue, SHELL_PORT_NAME } from './qemu-args.js';
import { type DataDisk } from '../model/guest.js';
import { type QemuAccel } from '../model/accel.js';
import { QGA_PORT_NAME } from './qga-client.js';

export interface CloudMachineSpec {
  readonly name: string;
  readonly accel: QemuAccel;
  readonly cpu: string;
  readonly memoryMiB: number;
  /** SeaBIOS (QEMU's default), or OVMF with its code read-only and a variable store of this guest's own. */
  readonly firmware: { readonly kind: 'bios' } | { readonly kind: 'uefi'; readonly code: string; readonly vars: string };
  /** The guest's qcow2 overlay over the image (or over a snapshot's disk). */
  readonly rootDisk: string;
  /** levelgate's tools disk first, then the run's data disks: read-only, serial lg-NAME. */
  readonly dataDisks: readonly DataDisk[];
  /** The NoCloud seed (ISO 9660, label cidata), read-only. */
  readonly seed: string;
  readonly qmpSocket: string;
  readonly agentSocket: string;
  readonly qgaSocket: string;
  readonly shellSocket: string;
  readonly memoryFile?: { readonly path: string; readonly share: boolean };
  readonly incoming?: boolean;
}

export function buildCloudQemuArgs(spec: CloudMachineSpec): string[] {
  const socket = (id: string, file: string) => ['-chardev', `socket,id=${id},path=${qemuOptValue(file)},server=on,wait=off`];
  return [
    '-name', `${spec.name},debug-threads=on`,
    '-machine', spec.memoryFile ? 'q35,memory-backend=ram0' : 'q35',
    ...(spec.memoryFile ? ['-object', `memory-backend-file,id=ram0,size=${spec.memoryMiB}M,mem-path=${qemuOptValue(spec.memoryFile.path)},share=${spec.memoryFile.share ? 'on' : 'off'}`] : []),
    '-accel', spec.accel,
    '-cpu', spec.cpu,
    '-smp', '1',
    '-m', String(spec.memoryMiB),
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-nic', 'none',
    '-no-reboot',
    ...(spec.firmware.kind === 'uefi'
      ? ['-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${qemuOptValue(spec.firmware.code)}`, '-drive', `if=pflash,format=raw,unit=1,file=${qemuOptValue(spec.firmware.vars)}`]
      : []),
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    ...socket('qmp', spec.qmpSocket), '-mon', 'chardev=qmp,mode=control',
    '-device', 'virtio-serial-pci,id=vser0',
    ...socket('agent', spec.agentSocket), '-device', `virtserialport,bus=vser0.0,chardev=agent,name=${AGENT_PORT_NAME}`,
    ...socket('qga', spec.qgaSocket), '-device', `virtserialport,bus=vser0.0,chardev=qga,name=${QGA_PORT_NAME}`,
    ...socket('shell', spec.shellSocket), '-device', `virtserialport,bus=vser0.0,chardev=shell,name=${SHELL_PORT_NAME}`,
    '-drive', `if=none,id=root,file=${qemuOptValue(spec.rootDisk)},format=qcow2,cache=unsafe,discard=unmap`,
    '-device', 'virtio-blk-pci,drive=root,serial=levelgate-root,bootindex=0',
    ...spec.dataDisks.flatMap((disk, i) => [
      '-drive', `if=none,id=data${i},file=${qemuOptValue(disk.path)},format=raw,readonly=on`,
      '-device', `virtio-blk-pci,drive=data${i},serial=${DATA_DISK_SERIAL_PREFIX}${disk.name}`,
    ]),
    '-drive', `if=none,id=seed,file=${qemuOptValue(spec.seed)},format=raw,readonly=on`,
    '-device', 'virtio-blk-pci,drive=seed,serial=levelgate-seed',
    // A new VM generation ID on every start: a restored guest's kernel reseeds its RNG.
    '-device', 'vmgenid,guid=auto',
    ...(spec.incoming ? ['-incoming', 'defer'] : []),
  ];
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
