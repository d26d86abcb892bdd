import test from 'ava';
import { buildQemuArgs, qemuOptValue } from '../../harness/guest/qemu-args.js';

const spec = {
  name: 'levelgate-v2-abcd1234',
  accel: 'tcg' as const,
  cpu: 'qemu64,+pni,enforce',
  memoryMiB: 1024,
  firmware: { kind: 'kernel' as const, kernel: '/cache/img/vmlinux', initrd: '/cache/img/initramfs.cpio', kernelArgs: ['console=ttyS0', 'quiet'] },
  rootDisk: '/tmp/g/root.qcow2',
  dataDisks: [{ name: 'repo', path: '/tmp/g/data-repo.img' }],
  channel: { agent: '/tmp/g/agent.sock' },
  qmpSocket: '/tmp/g/qmp.sock',
};

test('buildQemuArgs lowers a guest to one exact argument array', (t) => {
  t.deepEqual(buildQemuArgs(spec), [
    '-name', 'levelgate-v2-abcd1234,debug-threads=on',
    '-machine', 'q35',
    '-accel', 'tcg',
    '-cpu', 'qemu64,+pni,enforce',
    '-smp', '1',
    '-m', '1024',
    '-nodefaults', '-no-user-config',
    '-display', 'none',
    '-nic', 'none',
    '-no-reboot',
    '-kernel', '/cache/img/vmlinux',
    '-initrd', '/cache/img/initramfs.cpio',
    '-append', 'console=ttyS0 quiet',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-chardev', 'socket,id=qmp,path=/tmp/g/qmp.sock,server=on,wait=off',
    '-mon', 'chardev=qmp,mode=control',
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', 'socket,id=agent,path=/tmp/g/agent.sock,server=on,wait=off',
    '-device', 'virtserialport,bus=vser0.0,chardev=agent,name=levelgate.agent',
    '-drive', 'if=none,id=root,file=/tmp/g/root.qcow2,format=qcow2,cache=unsafe,discard=unmap',
    '-device', 'virtio-blk-pci,drive=root,serial=levelgate-root',
    '-drive', 'if=none,id=data0,file=/tmp/g/data-repo.img,format=raw,readonly=on',
    '-device', 'virtio-blk-pci,drive=data0,serial=lg-repo',
  ]);
});

test('guests have no network and no implicit devices', (t) => {
  const args = buildQemuArgs({ ...spec, dataDisks: [] });
  t.is(args[args.indexOf('-nic') + 1], 'none');
  t.true(args.includes('-nodefaults'));
  t.false(args.some((a) => /netdev|user,|virtio-net/.test(a)));
});

test('commas in paths are escaped for QEMU option values', (t) => {
  t.is(qemuOptValue('/a,b/c'), '/a,,b/c');
  const args = buildQemuArgs({ ...spec, rootDisk: '/tmp/x,y/root.qcow2' });
  t.true(args.includes('if=none,id=root,file=/tmp/x,,y/root.qcow2,format=qcow2,cache=unsafe,discard=unmap'));
});

/** A distribution image's machine: firmware, its own disk, the seed, both command ports. */
const image = {
  name: 'g',
  accel: 'tcg' as const,
  cpu: 'qemu64,+sse2,enforce',
  memoryMiB: 1024,
  firmware: { kind: 'uefi' as const, code: '/c.fd', vars: '/t/v.fd' },
  rootDisk: '/t/root.qcow2',
  dataDisks: [{ name: 'levelgate', path: '/s/tools.img' }],
  seed: '/s/seed.iso',
  qmpSocket: '/t/q',
  channel: { agent: '/t/a', qga: '/t/g', shell: '/t/s' },
};

test("a distribution image's restore through UEFI: OVMF's two flash drives, both command ports, the disk booted first, the seed and tools read-only, vmgenid, no -kernel", (t) => {
  t.deepEqual(buildQemuArgs({ ...image, memoryFile: { path: '/snap/ram', share: false }, incoming: true }), [
    '-name', 'g,debug-threads=on',
    '-machine', 'q35,memory-backend=ram0',
    '-object', 'memory-backend-file,id=ram0,size=1024M,mem-path=/snap/ram,share=off',
    '-accel', 'tcg',
    '-cpu', 'qemu64,+sse2,enforce',
    '-smp', '1',
    '-m', '1024',
    '-nodefaults',
    '-no-user-config',
    '-display', 'none',
    '-nic', 'none',
    '-no-reboot',
    '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/c.fd',
    '-drive', 'if=pflash,format=raw,unit=1,file=/t/v.fd',
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-chardev', 'socket,id=qmp,path=/t/q,server=on,wait=off',
    '-mon', 'chardev=qmp,mode=control',
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', 'socket,id=agent,path=/t/a,server=on,wait=off',
    '-device', 'virtserialport,bus=vser0.0,chardev=agent,name=levelgate.agent',
    '-chardev', 'socket,id=qga,path=/t/g,server=on,wait=off',
    '-device', 'virtserialport,bus=vser0.0,chardev=qga,name=org.qemu.guest_agent.0',
    '-chardev', 'socket,id=shell,path=/t/s,server=on,wait=off',
    '-device', 'virtserialport,bus=vser0.0,chardev=shell,name=levelgate.shell',
    '-drive', 'if=none,id=root,file=/t/root.qcow2,format=qcow2,cache=unsafe,discard=unmap',
    '-device', 'virtio-blk-pci,drive=root,serial=levelgate-root,bootindex=0',
    '-drive', 'if=none,id=data0,file=/s/tools.img,format=raw,readonly=on',
    '-device', 'virtio-blk-pci,drive=data0,serial=lg-levelgate',
    '-drive', 'if=none,id=seed,file=/s/seed.iso,format=raw,readonly=on',
    '-device', 'virtio-blk-pci,drive=seed,serial=levelgate-seed',
    '-device', 'vmgenid,guid=auto',
    '-incoming', 'defer',
  ]);
});

test('a distribution image booted through SeaBIOS has no flash drives and no memory file', (t) => {
  const args = buildQemuArgs({ ...image, firmware: { kind: 'bios' } });
  const uefi = buildQemuArgs({ ...image, memoryFile: { path: '/snap/ram', share: false }, incoming: true });
  const dropped = new Set([uefi.indexOf('-object'), uefi.indexOf('-object') + 1, uefi.lastIndexOf('-incoming'), uefi.lastIndexOf('-incoming') + 1]);
  for (const flash of ['if=pflash,format=raw,unit=0,readonly=on,file=/c.fd', 'if=pflash,format=raw,unit=1,file=/t/v.fd']) dropped.add(uefi.indexOf(flash)).add(uefi.indexOf(flash) - 1);
  t.deepEqual(args, uefi.filter((_, i) => !dropped.has(i)).map((a) => (a === 'q35,memory-backend=ram0' ? 'q35' : a)));
  t.false(args.includes('-kernel'));
});

test("levelgate's own kernel is entered directly: no bootindex, no seed, no vmgenid", (t) => {
  const line = buildQemuArgs(spec).join(' ');
  t.false(/bootindex|vmgenid|levelgate-seed|pflash/.test(line));
});
