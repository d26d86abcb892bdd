// Unpacks the ELF vmlinux from a bzImage, so QEMU can enter its PVH entry point
// directly: the in-guest decompression of the compressed kernel costs ~3 s under TCG
// and ~52 s under Bochs.
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { InfrastructureError } from '../util/errors.js';

const DECOMPRESSORS: { magic: Buffer; command: string; args: string[] }[] = [
  { magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), command: 'zstd', args: ['-dc'] },
  { magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), command: 'xz', args: ['-dc', '--single-stream'] },
  { magic: Buffer.from([0x1f, 0x8b]), command: 'gzip', args: ['-dc'] },
  { magic: Buffer.from([0x5d, 0x00, 0x00]), command: 'xz', args: ['-dc', '--format=lzma'] },
];

/** The compressed payload of a bzImage, located through its boot protocol header. */
export function bzImagePayload(image: Buffer, source = 'kernel image'): Buffer {
  if (image.length < 0x250 || image.toString('latin1', 0x202, 0x206) !== 'HdrS') {
    throw new InfrastructureError(`${source}: not a bzImage (no "HdrS" boot protocol header)`);
  }
  const setupSectors = image[0x1f1] || 4;
  const payloadOffset = image.readUInt32LE(0x248);
  const payloadLength = image.readUInt32LE(0x24c);
  const start = (setupSectors + 1) * 512 + payloadOffset;
  if (payloadLength === 0 || start + payloadLength > image.length) {
    throw new InfrastructureError(`${source}: boot header points outside the file (payload ${start}+${payloadLength})`);
  }
  return image.subarray(start, start + payloadLength);
}

/** Writes the uncompressed ELF kernel of `vmlinuzPath` to `outPath`. */
export async function extractVmlinux(vmlinuzPath: string, outPath: string): Promise<void> {
  const payload = bzImagePayload(await readFile(vmlinuzPath), vmlinuzPath);
  const tool = DECOMPRESSORS.find((d) => payload.subarray(0, d.magic.length).equals(d.magic));
  if (!tool) {
    throw new InfrastructureError(`${vmlinuzPath}: unknown kernel compression (payload starts ${payload.subarray(0, 6).toString('hex')})`);
  }
  // The kernel build appends the uncompressed size (4 bytes, LE) to the payload.
  const expectedSize = payload.readUInt32LE(payload.length - 4);
  // Decompressors stop at the trailer with an error of their own: judge the output, not the exit code.
  const payloadFile = `${outPath}.payload`;
  await writeFile(payloadFile, payload);
  try {
    await execa(tool.command, tool.args, { inputFile: payloadFile, stdout: { file: outPath }, reject: false });
  } finally {
    await rm(payloadFile, { force: true });
  }
  const size = (await stat(outPath)).size;
  const head = Buffer.alloc(4);
  const fh = await open(outPath, 'r');
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (!head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])) || size !== expectedSize) {
    throw new InfrastructureError(
      `${vmlinuzPath}: ${tool.command} produced ${size} bytes${head[0] === 0x7f ? '' : ' that are not ELF'}, expected an ELF of ${expectedSize} bytes`,
    );
  }
}
