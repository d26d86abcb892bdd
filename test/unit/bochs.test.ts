import test from 'ava';
import { BOOT_INFO_ADDRESS, INITRD_ADDRESS, bootDiskLayout, flattenKernel } from '../../harness/image/bochs-boot-disk.js';
import { CYLINDER_BYTES } from '../../harness/host/data-disk.js';
import { stripModuleSignature } from '../../harness/image/modules.js';
import { BOOT_INFO_BYTES, bootInfo, buildBochsrc, type BochsMachineSpec } from '../../harness/guest/bochs-config.js';
import { bochsKernelArgs, unshareArgs } from '../../harness/guest/bochs-guest.js';
import { BOCHS_CPU_MODELS } from '../../harness/levels/bochs-cpu.js';
import { UsageError } from '../../harness/util/errors.js';

/** A minimal x86-64 ELF: two load segments (the second with zero tail) and a Xen PVH entry note. */
function fakeKernel(withNote = true): Buffer {
  const elf = Buffer.alloc(0x3000);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  const phoff = 0x40;
  elf.writeBigUInt64LE(BigInt(phoff), 0x20);
  elf.writeUInt16LE(56, 0x36);
  elf.writeUInt16LE(3, 0x38);
  const ph = (i: number, type: number, offset: number, paddr: number, filesz: number, memsz: number) => {
    const at = phoff + i * 56;
    elf.writeUInt32LE(type, at);
    elf.writeBigUInt64LE(BigInt(offset), at + 8);
    elf.writeBigUInt64LE(BigInt(paddr), at + 24);
    elf.writeBigUInt64LE(BigInt(filesz), at + 32);
    elf.writeBigUInt64LE(BigInt(memsz), at + 40);
  };
  ph(0, 1, 0x1000, 0x100_0000, 0x10, 0x10);
  ph(1, 1, 0x2000, 0x100_2000, 0x20, 0x1000); // bss tail
  ph(2, withNote ? 4 : 0, 0x2800, 0, 24, 24);
  elf.fill(0xaa, 0x1000, 0x1010);
  elf.fill(0xbb, 0x2000, 0x2010); // the last 16 file bytes of segment 2 are zeros
  // Note: namesz 4 "Xen\0", descsz 8, type 18 (PHYS32_ENTRY), entry 0x1000004.
  elf.writeUInt32LE(4, 0x2800);
  elf.writeUInt32LE(8, 0x2804);
  elf.writeUInt32LE(18, 0x2808);
  elf.write('Xen\0', 0x280c, 'latin1');
  elf.writeBigUInt64LE(0x100_0004n, 0x2810);
  return elf;
}

test('flattenKernel lays the load segments at their physical addresses and drops the zero tail', (t) => {
  const flat = flattenKernel(fakeKernel());
  t.is(flat.loadAddress, 0x100_0000);
  t.is(flat.pvhEntry, 0x100_0004);
  t.is(flat.bytes.length, 0x2010, 'ends at the last non-zero byte');
  t.is(flat.bytes[0], 0xaa);
  t.is(flat.bytes[0x10], 0, 'the gap between segments is zero');
  t.is(flat.bytes[0x2000], 0xbb);
  t.throws(() => flattenKernel(fakeKernel(false), 'vmlinux'), { message: /^vmlinux: no PVH entry note .*CONFIG_PVH/ });
  t.throws(() => flattenKernel(Buffer.from('MZ not an elf at all, padded to sixty-four bytes or more ..........'), 'vmlinuz'), { message: 'vmlinuz: not a 64-bit ELF file' });
});

test('bootDiskLayout patches the boot sector with the boot info address and a load table', (t) => {
  const sector = Buffer.alloc(512);
  sector.write('LGBT', 400, 'latin1');
  sector.writeUInt16LE(0xaa55, 510);
  const kernel = flattenKernel(fakeKernel());
  const { sector: patched, kernelLba, initrdLba, layout } = bootDiskLayout(sector, kernel, 5000);
  t.is(patched.readUInt32LE(404), BOOT_INFO_ADDRESS);
  t.deepEqual([patched.readUInt32LE(408), patched.readUInt32LE(412), patched.readUInt32LE(416)], [kernelLba, Math.ceil(0x2010 / 512), 0x100_0000]);
  t.deepEqual([patched.readUInt32LE(420), patched.readUInt32LE(424), patched.readUInt32LE(428)], [initrdLba, 10, INITRD_ADDRESS]);
  t.is(patched.readUInt32LE(436), 0, 'the table ends with an empty entry');
  t.is(initrdLba % 8, 0);
  t.is(layout.diskBytes % CYLINDER_BYTES, 0);
  t.true(layout.diskBytes >= (initrdLba + 10) * 512);
  t.throws(() => bootDiskLayout(Buffer.alloc(512), kernel, 1), { message: /not a 512-byte sector ending in 55 AA/ });
});

const disk = (path: string, model: string, mode: 'undoable' | 'volatile' = 'volatile') => ({ path, bytes: 4 * CYLINDER_BYTES, journal: `${path}.redolog`, mode, model });
const spec: BochsMachineSpec = {
  cpuModel: 'corei7_skylake_x',
  memoryMiB: 1024,
  romImage: '/usr/share/bochs/BIOS-bochs-latest',
  vgaRomImage: '/usr/share/vgabios/vgabios.bin',
  bootDisk: disk('/cache/img/bochs-boot.img', 'levelgate-boot'),
  rootDisk: disk('/cache/img/root.img', 'lg-root', 'undoable'),
  dataDisks: [disk('/cache/fx/fixtures.img', 'lg-fixtures')],
  bootInfo: '/tmp/g/boot-info.bin',
  logFile: '/tmp/g/bochs.log',
  shell: false,
};

test('buildBochsrc: the level model, read-only bases with redologs, serial sockets, no network device', (t) => {
  const rc = buildBochsrc(spec).split('\n');
  t.true(rc.includes('cpu: model=corei7_skylake_x, count=1, ips=32000000, reset_on_triple_fault=0, ignore_bad_msrs=1'));
  t.true(rc.includes('ata0-slave: type=disk, mode=undoable, path="/cache/img/root.img", journal="/cache/img/root.img.redolog", cylinders=4, heads=16, spt=63, translation=lba, model="lg-root"'));
  t.true(rc.includes('ata1-master: type=disk, mode=volatile, path="/cache/fx/fixtures.img", journal="/cache/fx/fixtures.img.redolog", cylinders=4, heads=16, spt=63, translation=lba, model="lg-fixtures"'));
  t.true(rc.includes('optramimage1: file="/tmp/g/boot-info.bin", address=0xf00000'));
  t.true(rc.includes('com1: enabled=1, mode=socket-server, dev=localhost:4555'));
  t.true(rc.includes('com2: enabled=1, mode=socket-server, dev=localhost:4556'));
  t.false(rc.some((l) => l.startsWith('com3')), 'no shell port unless asked');
  t.true(rc.includes('plugin_ctrl: e1000=0, ne2k=0, pcipnic=0, sb16=0, es1370=0, gameport=0, parallel=0'));
  t.true(rc.includes('panic: action=fatal'));
  t.true(buildBochsrc({ ...spec, shell: true }).includes('com3: enabled=1, mode=socket-server, dev=localhost:4557'));
});

test('buildBochsrc refuses what Bochs would misread, naming the file or field', (t) => {
  t.throws(() => buildBochsrc({ ...spec, rootDisk: { ...spec.rootDisk, bytes: 2 ** 31 } }), { instanceOf: UsageError, message: /^\/cache\/img\/root\.img: 2147483648 bytes is not a whole number of cylinders/ });
  t.throws(() => buildBochsrc({ ...spec, dataDisks: [spec.bootDisk, spec.bootDisk, spec.bootDisk] }), { message: /at most 2 data disks/ });
  t.throws(() => buildBochsrc({ ...spec, logFile: '/tmp/a"b' }), { message: /log file: .* cannot appear in a bochsrc/ });
  t.throws(() => buildBochsrc({ ...spec, dataDisks: [disk('/x.img', 'lg-a-very-long-name')] }), { message: /longer than 16 characters/ });
});

test('bootInfo: PVH entry, hvm_start_info v1 with the initramfs module and the command line', (t) => {
  const layout = { pvhEntry: 0x39ce030, kernelAddress: 0x100_0000, kernelBytes: 1, initrdAddress: INITRD_ADDRESS, initrdBytes: 5_311_488, diskBytes: CYLINDER_BYTES };
  const block = bootInfo(layout, ['console=ttyS0', 'quiet']);
  t.is(block.length, BOOT_INFO_BYTES);
  t.is(block.readUInt32LE(0), 0x39ce030);
  t.is(block.readUInt32LE(0x40), 0x336ec578, 'hvm_start_info magic');
  t.is(block.readUInt32LE(0x44), 1, 'version 1: has the memory map fields');
  t.is(block.readUInt32LE(0x4c), 1, 'one module');
  t.is(block.readBigUInt64LE(0x50), BigInt(BOOT_INFO_ADDRESS + 0x100));
  t.is(block.readBigUInt64LE(0x58), BigInt(BOOT_INFO_ADDRESS + 0x200));
  t.is(block.readBigUInt64LE(0x100), BigInt(INITRD_ADDRESS));
  t.is(block.readBigUInt64LE(0x108), 5_311_488n);
  t.is(block.toString('latin1', 0x200, 0x200 + 'console=ttyS0 quiet'.length + 1), 'console=ttyS0 quiet\0');
  t.throws(() => bootInfo(layout, ['x'.repeat(4000)]), { message: /kernel command line is 4001 bytes/ });
});

test('Bochs guests: the v4 model is Skylake-X, and the kernel gets the workarounds and the serial agent', (t) => {
  t.is(BOCHS_CPU_MODELS.v4, 'corei7_skylake_x');
  const args = bochsKernelArgs(['extra=1']);
  for (const arg of ['clearcpuid=pku,xsaves,xsavec,fsrm', 'reboot=t', 'levelgate.disk=ata', 'levelgate.agent=/dev/ttyS1', 'panic=-1']) t.true(args.includes(arg), arg);
  t.is(args.at(-1), 'extra=1');
});

test('unshare puts Bochs in empty network and PID namespaces, with a user namespace when not root', (t) => {
  const relay = { bochs: 'bochs', args: ['-q'], cwd: '/tmp/g', ports: [] };
  const asRoot = unshareArgs(relay, true);
  t.deepEqual(asRoot.slice(0, 5), ['--net', '--pid', '--fork', '--kill-child', '--']);
  t.regex(asRoot[6]!, /bochs-relay\.js$/);
  t.deepEqual(JSON.parse(asRoot[7]!), relay);
  t.true(unshareArgs(relay, false).includes('--map-root-user'));
});

test('stripModuleSignature removes an appended signature and leaves unsigned modules alone', (t) => {
  const body = Buffer.from('\x7fELF module body');
  const signature = Buffer.alloc(20, 7);
  const info = Buffer.alloc(12);
  info.writeUInt32BE(signature.length, 8);
  const signed = Buffer.concat([body, signature, info, Buffer.from('~Module signature appended~\n')]);
  t.deepEqual(stripModuleSignature(signed), body);
  t.deepEqual(stripModuleSignature(body), body);
});
