// repodata/repomd.xml read once for every rpm-md reader: revision, locations and sizes by
// data type; a missing or malformed file is a usage error naming it.
import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readRepomd } from '../../harness/repos/repomd.js';
import { UsageError } from '../../harness/util/errors.js';

async function repo(xml: string | undefined, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-repomd-'));
  try {
    if (xml !== undefined) {
      await mkdir(path.join(dir, 'repodata'));
      await writeFile(path.join(dir, 'repodata', 'repomd.xml'), xml);
    }
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const REPOMD = `<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1733500000</revision>
  <data type="primary">
    <checksum type="sha256">aa</checksum>
    <open-checksum type="sha256">bb</open-checksum>
    <location href="repodata/aa-primary.xml.zst"/>
    <timestamp>1733500000</timestamp>
    <size>3145728</size>
    <open-size>41943040</open-size>
  </data>
  <data type="filelists">
    <location href="repodata/cc-filelists.xml.gz"/>
    <size>1048576</size>
  </data>
  <data type="other_db">
    <location href="repodata/dd-other.sqlite.bz2"/>
    <size>7</size>
    <open-size>9</open-size>
    <database_version>10</database_version>
  </data>
</repomd>
`;

test('revision, and each data type with its location, stored size and open size', async (t) => {
  await repo(REPOMD, async (dir) => {
    const repomd = await readRepomd(dir);
    t.is(repomd.file, path.join(dir, 'repodata', 'repomd.xml'));
    t.is(repomd.revision, '1733500000');
    t.deepEqual(Object.fromEntries(repomd.data), {
      primary: { href: 'repodata/aa-primary.xml.zst', size: 3145728, openSize: 41943040 },
      filelists: { href: 'repodata/cc-filelists.xml.gz', size: 1048576 },
      other_db: { href: 'repodata/dd-other.sqlite.bz2', size: 7, openSize: 9 },
    });
  });
});

test('a malformed repomd.xml is a usage error naming the file', async (t) => {
  await repo('<repomd><revision>1</revision><data type="primary"><location href="x"/></repomd>', async (dir) => {
    const error = await t.throwsAsync(readRepomd(dir), { instanceOf: UsageError });
    t.true(error!.message.startsWith(`${path.join(dir, 'repodata', 'repomd.xml')}: not valid repository metadata (`), error!.message);
  });
});

test('a directory without repomd.xml is not a repository; a path that is no directory is said so', async (t) => {
  await repo(undefined, async (dir) => {
    await t.throwsAsync(readRepomd(dir), { instanceOf: UsageError, message: `${dir} is not a repository: it has no repodata/repomd.xml (rpm-md), dists/SUITE/Release (apt) or NAME.db (pacman)` });
    await t.throwsAsync(readRepomd(path.join(dir, 'nothing')), { instanceOf: UsageError, message: `${path.join(dir, 'nothing')} does not exist or is not a directory` });
  });
});
