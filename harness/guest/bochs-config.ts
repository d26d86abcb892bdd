// Lowers a Bochs guest's typed description to a bochsrc and to the boot info the boot
// sector hands the kernel (PVH hvm_start_info). Pure: golden tests pin both.
import { BOOT_INFO_ADDRESS } from '../image/bochs-boot-disk.js';
import { CYLINDER_BYTES } from '../host/data-disk.js';
import type { BochsBootLayout } from '../image/bochs-boot-disk.js';
import { UsageError } from '../util/errors.js';

/** TCP ports of the serial ports inside the guest's private network namespace (any free port works there). */
export const BOCHS_PORTS = { console: 4555, agent: 4556, shell: 4557 } as const;
/** Inside the guest: where the agent and the shell listen. */
export const BOCHS_AGENT_DEVICE = '/dev/ttyS1';
export const BOCHS_SHELL_DEVICE = '/dev/ttyS2';
/** The IDE model string is the disk's name in the guest (16 characters survive SCSI INQUIRY). */
export const ROOT_DISK_MODEL = 'lg-root';
const MAX_MODEL = 16;

export interface BochsDisk {
  readonly path: string;
  readonly bytes: number;
  /** Writes land in this redolog; the image itself is only read. */
  readonly journal: string;
  /** undoable: the journal outlives Bochs (the disk survives a reboot); volatile: it does not matter. */
  readonly mode: 'undoable' | 'volatile';
  readonly model: string;
}

export interface BochsMachineSpec {
  readonly cpuModel: string;
  readonly memoryMiB: number;
  readonly romImage: string;
  readonly vgaRomImage: string;
  readonly bootDisk: BochsDisk;
  readonly rootDisk: BochsDisk;
  /** At most two: ata1 master and slave. */
  readonly dataDisks: readonly BochsDisk[];
  /** The per-guest boot info file (bootInfo()), loaded at BOOT_INFO_ADDRESS. */
  readonly bootInfo: string;
  readonly logFile: string;
  readonly shell: boolean;
}

export const MAX_BOCHS_DATA_DISKS = 2;

/** A bochsrc string value, quoted; refuses what a bochsrc cannot hold. */
export function quoted(value: string, what: string): string {
  if (/["\n\r]/.test(value)) throw new UsageError(`${what}: ${JSON.stringify(value)} cannot appear in a bochsrc (quote or newline)`);
  return `"${value}"`;
}

function diskLine(slot: string, disk: BochsDisk): string {
  if (disk.bytes <= 0 || disk.bytes % CYLINDER_BYTES !== 0) {
    throw new UsageError(`${disk.path}: ${disk.bytes} bytes is not a whole number of cylinders (${CYLINDER_BYTES} bytes); Bochs's IDE disks need one`, {
      hint: 'images made by levelgate are sized for this; resize with truncate -s to a multiple of 516096',
    });
  }
  if (disk.model.length > MAX_MODEL) throw new UsageError(`disk model "${disk.model}" is longer than ${MAX_MODEL} characters: the guest would not see its name`);
  return (
    `${slot}: type=disk, mode=${disk.mode}, path=${quoted(disk.path, `${slot} path`)}, journal=${quoted(disk.journal, `${slot} journal`)}, ` +
    `cylinders=${disk.bytes / CYLINDER_BYTES}, heads=16, spt=63, translation=lba, model=${quoted(disk.model, `${slot} model`)}`
  );
}

export function buildBochsrc(spec: BochsMachineSpec): string {
  if (spec.dataDisks.length > MAX_BOCHS_DATA_DISKS) {
    throw new UsageError(`Bochs guests take at most ${MAX_BOCHS_DATA_DISKS} data disks (IDE channel 1), not ${spec.dataDisks.length}`);
  }
  const serial = (n: number, port: number) => `com${n}: enabled=1, mode=socket-server, dev=localhost:${port}`;
  return [
    '# levelgate Bochs guest (harness/guest/bochs-config.ts)',
    `memory: guest=${spec.memoryMiB}, host=${spec.memoryMiB}`,
    // Guest time counts instructions (sync=none): boot waits cost no wall time. The host times commands.
    'clock: sync=none, time0=local',
    // ips only sets how many instructions make a guest second: 32 M keeps the guest clock near
    // wall time here (Bochs runs ~20 M/s) and costs fewer timer interrupts per instruction than
    // the default 4 M (boot to ready 13.7 s instead of 15.3 s).
    `cpu: model=${spec.cpuModel}, count=1, ips=32000000, reset_on_triple_fault=0, ignore_bad_msrs=1`,
    `romimage: file=${quoted(spec.romImage, 'romimage')}, options=fastboot`,
    `vgaromimage: file=${quoted(spec.vgaRomImage, 'vgaromimage')}`,
    // Debian's only display: an RFB server on every interface, inside a network namespace with nothing else.
    // no_gui_console: Bochs asks its questions (the save folder) on stdin/stdout, not on the guest's screen.
    'display_library: rfb, options="timeout=0, no_gui_console"',
    // No network card, no sound: nothing reaches out of the guest.
    'plugin_ctrl: e1000=0, ne2k=0, pcipnic=0, sb16=0, es1370=0, gameport=0, parallel=0',
    'speaker: enabled=0',
    'sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy',
    'mouse: enabled=0',
    'pci: enabled=1, chipset=i440fx',
    'boot: disk',
    'ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14',
    'ata1: enabled=1, ioaddr1=0x170, ioaddr2=0x370, irq=15',
    diskLine('ata0-master', spec.bootDisk),
    diskLine('ata0-slave', spec.rootDisk),
    ...spec.dataDisks.map((disk, i) => diskLine(i === 0 ? 'ata1-master' : 'ata1-slave', disk)),
    `optramimage1: file=${quoted(spec.bootInfo, 'boot info')}, address=0x${BOOT_INFO_ADDRESS.toString(16)}`,
    serial(1, BOCHS_PORTS.console),
    serial(2, BOCHS_PORTS.agent),
    ...(spec.shell ? [serial(3, BOCHS_PORTS.shell)] : []),
    // A triple fault (the kernel's reboot=t, or a panic) ends Bochs instead of resetting.
    'panic: action=fatal',
    // The kernel polls APERF/MPERF, which Bochs lacks: one log line each time. Other errors stay.
    'error: action=report, cpu0=ignore',
    'info: action=ignore',
    'debug: action=ignore',
    `log: ${quoted(spec.logFile, 'log file')}`,
    '',
  ].join('\n');
}

const HVM_START_MAGIC = 0x336ec578;
const START_INFO_OFFSET = 0x40;
const MODLIST_OFFSET = 0x100;
const CMDLINE_OFFSET = 0x200;
export const BOOT_INFO_BYTES = 4096;

/**
 * The boot info block (bochs-boot.S reads it at BOOT_INFO_ADDRESS): the PVH entry point,
 * then a version-1 hvm_start_info with the initramfs as its one module and the kernel
 * command line. The boot sector fills in the memory map from the BIOS.
 */
export function bootInfo(layout: BochsBootLayout, kernelArgs: readonly string[]): Buffer {
  const cmdline = Buffer.from(`${kernelArgs.join(' ')}\0`, 'latin1');
  if (CMDLINE_OFFSET + cmdline.length > BOOT_INFO_BYTES) {
    throw new UsageError(`kernel command line is ${cmdline.length} bytes; Bochs guests take at most ${BOOT_INFO_BYTES - CMDLINE_OFFSET - 1}`);
  }
  const block = Buffer.alloc(BOOT_INFO_BYTES);
  const at = (offset: number) => BigInt(BOOT_INFO_ADDRESS + offset);
  block.writeUInt32LE(layout.pvhEntry, 0);
  const info = START_INFO_OFFSET;
  block.writeUInt32LE(HVM_START_MAGIC, info);
  block.writeUInt32LE(1, info + 4); // version: has the memory map fields
  block.writeUInt32LE(0, info + 8); // flags
  block.writeUInt32LE(1, info + 12); // nr_modules
  block.writeBigUInt64LE(at(MODLIST_OFFSET), info + 16);
  block.writeBigUInt64LE(at(CMDLINE_OFFSET), info + 24);
  block.writeBigUInt64LE(0n, info + 32); // rsdp: the kernel finds the BIOS's ACPI tables itself
  // memmap_paddr and memmap_entries (+40, +48): written by the boot sector from e820.
  block.writeBigUInt64LE(BigInt(layout.initrdAddress), MODLIST_OFFSET);
  block.writeBigUInt64LE(BigInt(layout.initrdBytes), MODLIST_OFFSET + 8);
  cmdline.copy(block, CMDLINE_OFFSET);
  return block;
}
