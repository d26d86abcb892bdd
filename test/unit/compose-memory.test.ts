import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { MAX_GUEST_MIB, planGuestMemory, solverMetadataBytes } from '../../harness/compose/memory.js';
import { runComposeAudit } from '../../harness/compose/run.js';
import { UsageError } from '../../harness/util/errors.js';

const MiB = 2 ** 20;

/** A createrepo_c-like repository: repomd.xml with the given open sizes, and a primary.xml of one name in two arches. */
async function fakeRepo(sizes: { primary: number; filelists?: number; other?: number; openSize?: boolean }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-compose-memory-'));
  await mkdir(path.join(dir, 'repodata'));
  const data = (type: string, open: number) =>
    `<data type="${type}"><location href="repodata/${type}.xml"/><size>${Math.round(open / 10)}</size>${sizes.openSize === false ? '' : `<open-size>${open}</open-size>`}</data>`;
  const entries = [data('primary', sizes.primary), ...(sizes.filelists ? [data('filelists', sizes.filelists)] : []), ...(sizes.other ? [data('other', sizes.other)] : [])];
  await writeFile(path.join(dir, 'repodata/repomd.xml'), `<?xml version="1.0"?><repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>1</revision>${entries.join('')}</repomd>`);
  const pkg = (arch: string) => `<package type="rpm"><name>lgc-v1</name><arch>${arch}</arch><version epoch="0" ver="1" rel="1"/><location href="Packages/lgc-v1-1-1.${arch}.rpm"/><format><file>/usr/bin/lgc-v1</file></format></package>`;
  await writeFile(path.join(dir, 'repodata/primary.xml'), `<?xml version="1.0"?><metadata packages="2">${pkg('x86_64')}${pkg('x86_64_v3')}</metadata>`);
  return dir;
}

test('solver metadata: primary and filelists open sizes from repomd.xml, other not counted; without open-size, eight times the compressed size', async (t) => {
  const dir = await fakeRepo({ primary: 30 * MiB, filelists: 70 * MiB, other: 500 * MiB });
  const packed = await fakeRepo({ primary: 30 * MiB, openSize: false });
  try {
    t.deepEqual(await solverMetadataBytes(dir), { dir, bytes: 100 * MiB });
    t.deepEqual(await solverMetadataBytes(packed), { dir: packed, bytes: 8 * 3 * MiB });
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rm(packed, { recursive: true, force: true });
  }
});

test('guest memory grows with the metadata from the default guest, stated with its figures', (t) => {
  const small = planGuestMemory([{ dir: '/srv/c', bytes: 14 * MiB }], 2, 20_000);
  t.is(small.guestMiB, 1024);
  t.is(small.workers, 2);
  t.is(small.statement, 'guest memory 1024 MiB (768 MiB + 3 × 14.0 MiB of solver metadata, at least 1024), 2 guests at once');
  const fedora = planGuestMemory([{ dir: '/srv/f41', bytes: 1100 * MiB }], 2, 20_000);
  t.is(fedora.guestMiB, 4096); // 768 + 3300 = 4068, up to the next 128
  t.is(fedora.metadataMiB, 1100);
  // Both releases of an upgrade are loaded in every guest: their sizes add up.
  t.is(planGuestMemory([{ dir: '/a', bytes: 550 * MiB }, { dir: '/b', bytes: 550 * MiB }], 2, 20_000).guestMiB, 4096);
});

test('fewer guests at once when the host holds fewer, said in the statement', (t) => {
  const plan = planGuestMemory([{ dir: '/srv/f41', bytes: 1100 * MiB }], 2, 6000);
  t.is(plan.workers, 1);
  t.is(plan.statement, 'guest memory 4096 MiB (768 MiB + 3 × 1100.0 MiB of solver metadata, at least 1024), 1 guest at once (2 asked; 4976 MiB available for guests)');
});

test('a compose too big for the host or for any guest is a usage error naming the repository and the figures', (t) => {
  const host = t.throws(() => planGuestMemory([{ dir: '/srv/f41', bytes: 1100 * MiB }], 2, 4000), { instanceOf: UsageError });
  t.is(host!.message, 'the compose /srv/f41 (1100.0 MiB of solver metadata) needs a guest of 4096 MiB; this host has 4000 MiB available, 2976 MiB for guests after 1024 MiB kept for itself');
  const guest = t.throws(() => planGuestMemory([{ dir: '/a', bytes: 1 * MiB }, { dir: '/huge', bytes: 6000 * MiB }], 2, 1_000_000), { instanceOf: UsageError });
  t.is(guest!.message, `the compose /huge (6001.0 MiB of solver metadata over 2 repositories) needs a guest of 18816 MiB; a compose audit boots guests of at most ${MAX_GUEST_MIB} MiB`);
});

test('the compose audit refuses a compose too big for the host before it asks for the image or boots a guest', async (t) => {
  const dir = await fakeRepo({ primary: 400 * MiB, filelists: 700 * MiB });
  let imageAsked = false;
  try {
    const error = await t.throwsAsync(
      runComposeAudit({
        dir,
        levels: ['v3'],
        drivers: ['dnf5'],
        image: () => {
          imageAsked = true;
          return Promise.reject(new Error('no image in a unit test'));
        },
        evidenceDir: path.join(dir, 'evidence'),
        hostAvailableMiB: 3000,
      }),
      { instanceOf: UsageError },
    );
    t.regex(error!.message, new RegExp(`^the compose ${dir} \\(1100\\.0 MiB of solver metadata\\) needs a guest of 4096 MiB; this host has 3000 MiB available`));
    t.false(imageAsked);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
