import test from 'ava';
import { bzImagePayload } from '../../harness/image/kernel.js';
import { moduleClosure, moduleName, parseModulesDep } from '../../harness/image/modules.js';
import { InfrastructureError } from '../../harness/util/errors.js';

const DEP = `kernel/fs/ext4/ext4.ko.xz: kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz kernel/lib/crc/crc16.ko.xz
kernel/fs/mbcache.ko.xz:
kernel/fs/jbd2/jbd2.ko.xz:
kernel/lib/crc/crc16.ko.xz:
kernel/drivers/block/virtio_blk.ko.xz:
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet.ko.xz:
kernel/fs/netfs/netfs.ko.xz:
`;

test('module closures list every dependency before its user', (t) => {
  const closure = moduleClosure(parseModulesDep(DEP), ['virtio_blk', 'ext4', 'virtio-console']);
  t.deepEqual(closure.ordered.map(moduleName), ['virtio_blk', 'mbcache', 'jbd2', 'crc16', 'ext4']);
  t.deepEqual(closure.notModules, ['virtio-console']);
  t.is(moduleName('kernel/fs/9p/9p.ko.xz'), '9p');
});

function fakeBzImage(payload: Buffer): Buffer {
  const setupSectors = 2;
  const image = Buffer.alloc((setupSectors + 1) * 512 + 100 + payload.length);
  image[0x1f1] = setupSectors;
  image.write('HdrS', 0x202, 'latin1');
  image.writeUInt32LE(100, 0x248);
  image.writeUInt32LE(payload.length, 0x24c);
  payload.copy(image, (setupSectors + 1) * 512 + 100);
  return image;
}

test('bzImagePayload finds the compressed kernel through the boot header', (t) => {
  const payload = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5]);
  t.true(bzImagePayload(fakeBzImage(payload)).equals(payload));
});

test('bzImagePayload names the file when it is not a bzImage', (t) => {
  const error = t.throws(() => bzImagePayload(Buffer.alloc(4096), '/boot/vmlinuz-x'), { instanceOf: InfrastructureError });
  t.is(error?.message, '/boot/vmlinuz-x: not a bzImage (no "HdrS" boot protocol header)');
});
