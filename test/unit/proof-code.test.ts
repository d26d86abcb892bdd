// The snapshot keys carry the proof, canary and detector code: a fix there rebuilds the
// snapshots proven by the old code.
import test from 'ava';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { snapshotKey } from '../../harness/guest/qemu-snapshot.js';
import type { Emulator } from '../../harness/guest/emulator.js';
import type { ImageArtifacts } from '../../harness/image/build.js';
import { digestFiles, PROOF_MODULES, proofCodeDigest } from '../../harness/levels/proof-code.js';

const levels = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../harness/levels');
const image = { digest: 'img1234', rootDisk: '/nonexistent' } as unknown as ImageArtifacts;
const qemu: Emulator = { name: 'bookworm', argv0: ['qemu-system-x86_64'], env: {}, version: '7.2.22' };

test('the QEMU snapshot key carries the digest of the proof, canary and detector modules', async (t) => {
  const { inputs } = await snapshotKey({ image, level: 'v3', accel: 'tcg', dataDisks: [], emulator: qemu });
  t.is(inputs.proofCode, await proofCodeDigest());
  t.regex(String(inputs.proofCode), /^[0-9a-f]{16}$/);
  for (const m of ['proof.js', 'canaries.js', '../drivers/detectors.js', 'targets.js']) t.true((PROOF_MODULES as readonly string[]).includes(m), m);
  for (const m of PROOF_MODULES) await t.notThrowsAsync(access(path.join(levels, m)), m);
});

test('a change to any one module of the proof changes the digest', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-proof-code-'));
  try {
    const files = PROOF_MODULES.map((m, i) => path.join(dir, `${i}-${path.basename(m)}`));
    for (const f of files) await writeFile(f, `// ${path.basename(f)}\n`);
    const before = await digestFiles(files);
    t.is(await digestFiles(files), before);
    const changed = new Set<string>();
    for (const f of files) {
      await writeFile(f, `// ${path.basename(f)} fixed\n`);
      changed.add(await digestFiles(files));
    }
    t.is(changed.size, files.length);
    t.false(changed.has(before));
    // The same code in another directory (another checkout of it) has the same digest.
    const other = await mkdtemp(path.join(os.tmpdir(), 'levelgate-proof-code-'));
    try {
      const copies = PROOF_MODULES.map((m, i) => path.join(other, `${i}-${path.basename(m)}`));
      for (const [i, f] of copies.entries()) await writeFile(f, `// ${path.basename(files[i]!)} fixed\n`);
      t.is(await digestFiles(copies), await digestFiles(files));
    } finally {
      await rm(other, { recursive: true, force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
