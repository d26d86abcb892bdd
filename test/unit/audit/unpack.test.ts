import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { extUsedBytes, unpackParent } from '../../../harness/audit/unpack.js';
import { RAM_SCRATCH } from '../../../harness/host/temp-sweep.js';

/** An ext4 superblock (at 1024) with these counts, in a file of 4 KiB. */
async function image(blocks: number, free: number, logBlock: number, wide = false): Promise<string> {
  const b = Buffer.alloc(4096);
  const sb = 1024;
  b.writeUInt32LE(blocks % 2 ** 32, sb + 4);
  b.writeUInt32LE(free % 2 ** 32, sb + 12);
  b.writeUInt32LE(logBlock, sb + 24);
  b.writeUInt16LE(0xef53, sb + 56);
  if (wide) {
    b.writeUInt32LE(0x80, sb + 0x60);
    b.writeUInt32LE(Math.floor(blocks / 2 ** 32), sb + 0x150);
    b.writeUInt32LE(Math.floor(free / 2 ** 32), sb + 0x158);
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-unpack-test-'));
  const file = path.join(dir, 'root.img');
  await writeFile(file, b);
  return file;
}

test('the bytes an ext4 image uses come from its superblock: (blocks - free) x block size, 64-bit counts too; not ext4: undefined', async (t) => {
  const small = await image(524288, 413287, 2);
  const wide = await image(2 ** 32 + 10, 4, 2, true);
  const other = await image(100, 10, 2);
  await writeFile(other, Buffer.alloc(4096));
  try {
    t.is(await extUsedBytes(small), (524288 - 413287) * 4096);
    t.is(await extUsedBytes(wide), (2 ** 32 + 6) * 4096);
    t.is(await extUsedBytes(other), undefined);
  } finally {
    for (const f of [small, wide, other]) await rm(path.dirname(f), { recursive: true, force: true });
  }
});

test('an image is unpacked in RAM only when RAM and free memory each hold it twice and TMPDIR names no place', (t) => {
  const gb = 1e9;
  t.is(unpackParent(0.45 * gb, { tmpdirSet: false, ramFree: 12 * gb, memoryFree: 20 * gb }), RAM_SCRATCH);
  // Break each condition once: the temporary directory instead.
  t.is(unpackParent(0.45 * gb, { tmpdirSet: true, ramFree: 12 * gb, memoryFree: 20 * gb }), undefined);
  t.is(unpackParent(0.45 * gb, { tmpdirSet: false, ramFree: 0.8 * gb, memoryFree: 20 * gb }), undefined);
  t.is(unpackParent(0.45 * gb, { tmpdirSet: false, ramFree: 12 * gb, memoryFree: 0.8 * gb }), undefined);
  t.is(unpackParent(0.45 * gb, { tmpdirSet: false, ramFree: undefined, memoryFree: 20 * gb }), undefined);
  t.is(unpackParent(undefined, { tmpdirSet: false, ramFree: 12 * gb, memoryFree: 20 * gb }), undefined);
});
