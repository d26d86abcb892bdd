// Experiment (not part of a gate): the stand-in cloud image's own kernel, initramfs,
// glibc and rpm at v4 under Bochs. Bochs has no -kernel, so levelgate's Bochs boot disk
// loads the image's kernel and initramfs with BOCHS_KERNEL_ARGS; the root is a raw copy
// of the image (the image is only read) with levelgate's agent added and init= pointing
// at a script that starts it on ttyS1 (systemd is bypassed). Needs root (a loop mount).
// Usage: npm run bench:image-v4 [-- --timeout S]
import { chmod, copyFile, mkdir, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { dir } from 'tmp-promise';
import { BochsGuest } from '../harness/guest/bochs-guest.js';
import type { ImageArtifacts } from '../harness/image/build.js';
import { assembleBootSector, writeBochsBootDisk } from '../harness/image/bochs-boot-disk.js';
import { CYLINDER_BYTES } from '../harness/host/data-disk.js';
import { ensureStandInImage } from '../harness/image/cloud/build.js';
import { extractVmlinux } from '../harness/image/kernel.js';
import { guestSourcePath } from '../harness/image/recipe.js';
import { stderrLog } from '../harness/util/log.js';

const { values } = parseArgs({ options: { timeout: { type: 'string', default: '1800' } } });
const standIn = await ensureStandInImage('qga', { log: stderrLog });
const work = await dir({ prefix: 'levelgate-bench-v4-', unsafeCleanup: true });
const d = (name: string) => path.join(work.path, name);
try {
  await extractVmlinux(standIn.kernel, d('vmlinux'));
  const layout = await writeBochsBootDisk({ bootSector: await assembleBootSector(guestSourcePath('bochs-boot.S'), work.path), kernelPath: d('vmlinux'), initrdPath: standIn.initrd, diskPath: d('boot.img') });
  await execa('qemu-img', ['convert', '-O', 'raw', standIn.disk, d('root.raw')]);
  await truncate(d('root.raw'), Math.ceil((await stat(d('root.raw'))).size / CYLINDER_BYTES) * CYLINDER_BYTES);
  for (const [source, out] of [['agent.c', 'agent'], ['canary.c', 'canary']] as const) await execa('gcc', ['-O2', '-march=x86-64', '-static', '-o', d(out), guestSourcePath(source)]);
  const loop = (await execa('losetup', ['-f', '--show', '-o', '1048576', d('root.raw')])).stdout.trim();
  await mkdir(d('mnt'));
  try {
    await execa('mount', [loop, d('mnt')]);
    const bin = path.join(d('mnt'), 'usr/lib/levelgate');
    await mkdir(bin, { recursive: true });
    for (const f of ['agent', 'canary']) await copyFile(d(f), path.join(bin, f));
    await writeFile(
      path.join(bin, 'v4init'),
      '#!/bin/sh\nmount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev 2>/dev/null; mount -o remount,rw /; mount -t tmpfs tmpfs /run; mount -t tmpfs tmpfs /tmp\necho 7 > /proc/sys/kernel/printk\nexport PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb\nexec /usr/lib/levelgate/agent /dev/ttyS1\n',
    );
    await chmod(path.join(bin, 'v4init'), 0o755);
  } finally {
    await execa('umount', [d('mnt')], { reject: false });
    await execa('losetup', ['-d', loop], { reject: false });
  }
  const image = { digest: `stand-in-${standIn.digest}`, dir: work.path, kernel: d('vmlinux'), initrd: standIn.initrd, rootDisk: d('root.raw'), bochsBootDisk: d('boot.img'), manifest: { bochsBoot: layout, kernel: { release: standIn.manifest.kernelRelease } } } as unknown as ImageArtifacts;
  const started = performance.now();
  await using guest = await BochsGuest.boot({ image, level: 'v4', extraKernelArgs: ['root=LABEL=cloudroot', 'ro', 'init=/usr/lib/levelgate/v4init'], bootTimeoutMs: Number(values.timeout) * 1000, consoleLog: path.resolve('reports/bench-v4-console.log'), tmpDir: work.path });
  stderrLog(`ready after ${((performance.now() - started) / 1000).toFixed(1)} s; proven ${guest.proof.proven} (glibc ${guest.proof.glibcLevel}, flags ${guest.proof.flags.filter((f) => f.startsWith('avx512')).join(' ')})`);
  for (const argv of [['sh', '-c', 'rpm --showrc | grep "^install arch"'], ['sh', '-c', 'uname -r; head -n 1 /etc/os-release']]) {
    const r = await guest.exec(argv, { timeoutMs: 600_000 });
    process.stdout.write(`$ ${r.command}\n${r.stdout}(exit ${r.exitCode}, ${r.durationMs} ms)\n`);
  }
} finally {
  await work.cleanup();
}
