import test from 'ava';
import { buildQemuArgs, qemuOptValue } from '../../harness/guest/qemu-args.js';

const spec = {
  name: 'levelgate-v2-abcd1234',
  accel: 'tcg' as const,
  cpu: 'qemu64,+pni,enforce',
  memoryMiB: 1024,
  kernel: '/cache/img/vmlinux',
  initrd: '/cache/img/initramfs.cpio',
  kernelArgs: ['console=ttyS0', 'quiet'],
  rootDisk: '/tmp/g/root.qcow2',
  dataDisks: [{ name: 'repo', path: '/tmp/g/data-repo.img' }],
  agentSocket: '/tmp/g/agent.sock',
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
