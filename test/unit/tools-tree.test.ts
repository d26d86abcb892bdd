import { execa } from 'execa';
import test from 'ava';
import { emulatorCommand, emulatorIdentity, parseQemuVersion, type Emulator } from '../../harness/guest/emulator.js';
import { snapshotKey } from '../../harness/guest/qemu-snapshot.js';
import { mmdebstrapOptions, toolsTreeBochs, toolsTreeKey, toolsTreeQemu, toolsTreeRecipe } from '../../harness/guest/tools-tree.js';
import type { ImageArtifacts } from '../../harness/image/build.js';

test("toolsTreeQemu runs the tree's QEMU through the tree's own loader, libraries, firmware and modules", (t) => {
  t.deepEqual(toolsTreeQemu('/cache/tools/sid-abc/root'), {
    argv0: [
      '/cache/tools/sid-abc/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
      '--library-path', '/cache/tools/sid-abc/root/usr/lib/x86_64-linux-gnu:/cache/tools/sid-abc/root/usr/lib',
      '/cache/tools/sid-abc/root/usr/bin/qemu-system-x86_64',
      '-L', '/cache/tools/sid-abc/root/usr/share/qemu',
      '-L', '/cache/tools/sid-abc/root/usr/share/seabios',
    ],
    env: { QEMU_MODULE_DIR: '/cache/tools/sid-abc/root/usr/lib/x86_64-linux-gnu/qemu' },
  });
});

test("toolsTreeBochs runs the tree's bochs-bin inside the tree, the guest's paths bound at the same places", async (t) => {
  const root = '/cache/tools/sid-abc/root';
  const bochs = toolsTreeBochs({ root, versions: { bochs: '3.1+dfsg-1' }, recipe: toolsTreeRecipe('sid', {}) }, '/cache');
  t.deepEqual(bochs.argv0.slice(0, 7), ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c']);
  t.deepEqual(bochs.argv0.slice(-2), ['bochs-in-tree', root]);
  const script = bochs.argv0[7]!;
  t.regex(script, /for d in \/tmp "\$LEVELGATE_CACHE" \/dev; do .*mount --rbind/);
  t.regex(script, /mount --bind \/etc\/hosts "\$root\/etc\/hosts"/);
  t.regex(script, /exec chroot "\$root" .*\/usr\/bin\/bochs-bin/);
  t.is((await execa('sh', ['-n', '-c', script], { reject: false })).exitCode, 0, 'the script parses');
  t.like(bochs, { name: 'sid', env: { LEVELGATE_CACHE: '/cache' }, romImage: '/usr/share/bochs/BIOS-bochs-latest', vgaRomImage: '/usr/share/bochs/VGABIOS-lgpl-latest', version: '3.1+dfsg-1' });
});

test('emulatorCommand puts the prefix before the guest arguments', (t) => {
  t.deepEqual(emulatorCommand({ argv0: ['/ld.so', '--library-path', '/l', '/qemu', '-L', '/fw'] }, ['-m', '1024']), { file: '/ld.so', args: ['--library-path', '/l', '/qemu', '-L', '/fw', '-m', '1024'] });
  t.deepEqual(emulatorCommand({ argv0: ['qemu-system-x86_64'] }, ['-m', '1024']), { file: 'qemu-system-x86_64', args: ['-m', '1024'] });
  t.throws(() => emulatorCommand({ argv0: [] }, []), { message: 'an emulator needs a program' });
});

test('parseQemuVersion reads the version word', (t) => {
  t.is(parseQemuVersion('QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1)\nCopyright'), '11.1.3');
  t.is(parseQemuVersion('QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)'), '7.2.22');
  t.is(parseQemuVersion('nonsense'), 'unknown');
});

test('the tools tree key: suite, packages and mmdebstrap recipe, not the mirror', (t) => {
  const sid = toolsTreeRecipe('sid', {});
  t.deepEqual(sid.packages, ['qemu-system-x86', 'qemu-utils', 'bochs', 'bochsbios', 'vgabios']);
  t.is(sid.mirror, 'http://deb.debian.org/debian');
  t.is(toolsTreeRecipe('sid', { LEVELGATE_MIRROR: 'http://mirror.example/debian' }).mirror, 'http://mirror.example/debian');
  t.is(toolsTreeKey(sid), toolsTreeKey(toolsTreeRecipe('sid', { LEVELGATE_MIRROR: 'http://mirror.example/debian' })));
  t.not(toolsTreeKey(sid), toolsTreeKey({ ...sid, packages: [...sid.packages, 'ovmf'] }));
  t.not(toolsTreeKey(sid), toolsTreeKey(toolsTreeRecipe('trixie', {})));
  t.regex(toolsTreeKey(sid), /^sid-[0-9a-f]{12}$/);
  t.false(mmdebstrapOptions(sid).some((o) => /\d{4}-\d\d-\d\d|--mirror|deb\.debian/.test(o)));
  t.is(mmdebstrapOptions(sid)[0], '--variant=apt');
});

const image = { digest: 'img1234', rootDisk: '/nonexistent' } as unknown as ImageArtifacts;
const bookworm: Emulator = { name: 'bookworm', argv0: ['qemu-system-x86_64'], env: {}, version: '7.2.22' };
const sid: Emulator = { name: 'sid', argv0: toolsTreeQemu('/cache/tools/sid-abc/root').argv0, env: {}, version: '11.1.3' };

test('a snapshot is keyed on the emulator: its whole prefix and its version', async (t) => {
  const key = async (emulator: Emulator) => snapshotKey({ image, level: 'v3', accel: 'tcg', dataDisks: [], emulator });
  const host = await key(bookworm);
  // The host's identity is what it was before emulators were records: its snapshots stay valid.
  t.is(host.inputs.emulator, 'qemu-system-x86_64 7.2.22');
  t.is(emulatorIdentity(bookworm), 'qemu-system-x86_64 7.2.22');
  t.not(host.key, (await key(sid)).key);
  t.not((await key(sid)).key, (await key({ ...sid, version: '11.1.4' })).key);
  t.not((await key(sid)).key, (await key({ ...sid, argv0: toolsTreeQemu('/cache/tools/sid-def/root').argv0 })).key);
});
