// The snapshot warm-up of the fixture repositories: which repositories zypper's caches are built for, under which ids and paths, and on which backends.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { ZYPPER_CACHE_DIR, ZYPPER_REPO_FILE, ZYPPER_REPOS_DIR, zypperRepoFile } from '../../harness/drivers/zypper.js';
import { parseTargetName } from '../../harness/levels/targets.js';
import { RepoCatalog, guestRepoPath, repoId } from '../../harness/repos/catalog.js';
import { fixtureRepoWarmUp, zypperFixtureRepos } from '../../harness/repos/warm-up.js';
import { BackendGuests } from '../../harness/run/session.js';
import { CATALOG } from '../../scenarios/index.js';
import { FAKE_IMAGE, fakeBackends } from '../fixtures/fake-backends.js';

/** A fixture tree holding an rpm-md repomd.xml for every fixture repository of the catalog, but `without`. */
async function fixtureTree(without: (scenario: string, name: string) => boolean): Promise<{ root: string; catalog: RepoCatalog }> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'levelgate-warm-up-'));
  const catalog = new RepoCatalog(root);
  for (const scenario of CATALOG) {
    for (const [name, spec] of Object.entries(scenario.repos)) {
      const dir = spec.kind === 'fixture' && !name.includes('$releasever') && !without(scenario.id, name) ? catalog.hostDir(scenario, name) : undefined;
      if (!dir) continue;
      await mkdir(path.join(dir, 'repodata'), { recursive: true });
      await writeFile(path.join(dir, 'repodata', 'repomd.xml'), '<repomd/>');
    }
  }
  return { root, catalog };
}

test("zypper's caches are built for the fixture repositories of the scenarios with zypper cells, under the ids and guest paths the cells give them", async (t) => {
  const { root, catalog } = await fixtureTree((scenario, name) => scenario === 'fresh-install-mixed' && name === 'main');
  try {
    const refs = await zypperFixtureRepos(CATALOG, catalog);
    const zypperScenarios = CATALOG.filter((s) => s.drivers.includes('zypper'));
    const expected = zypperScenarios.flatMap((s) =>
      Object.entries(s.repos)
        .filter(([name, spec]) => spec.kind === 'fixture' && !name.includes('$releasever') && !(s.id === 'fresh-install-mixed' && name === 'main'))
        .map(([name, spec]) => ({ id: repoId(s.id, name), path: guestRepoPath(s, name, spec) })),
    );
    t.true(expected.length >= 20, `${expected.length} repositories`);
    t.deepEqual(refs, [...new Map(expected.map((r) => [r.id, r])).values()]);
    // A repository without rpm-md metadata on the host (here: removed on purpose) is not configured: its refresh would fail the snapshot.
    t.false(refs.some((r) => r.id === 'fresh-install-mixed-main'));
    // Scenarios without zypper cells (apt, pacman) and $releasever names are not warmed.
    t.false(refs.some((r) => r.id.startsWith('pacman-') || r.id.startsWith('apt-')));
    t.false(refs.some((r) => r.id.includes('releasever')));
    // One refresh per repository, each named by its id, then the repository file goes.
    const commands = (await fixtureRepoWarmUp(CATALOG, catalog)).map((c) => c.argv.join(' '));
    t.is(commands.length, refs.length + 3);
    t.deepEqual(commands.slice(2, -1), refs.map((r) => `zypper --non-interactive --no-gpg-checks --reposd-dir ${ZYPPER_REPOS_DIR} --cache-dir ${ZYPPER_CACHE_DIR} refresh ${r.id}`));
    t.is(commands.at(-1), `rm -f ${ZYPPER_REPO_FILE}`);
    t.is((await fixtureRepoWarmUp(CATALOG, catalog))[1]!.input, zypperRepoFile(refs));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('no fixture repository on the host, no warm-up', async (t) => {
  t.deepEqual(await fixtureRepoWarmUp(CATALOG, new RepoCatalog(undefined)), []);
});

test("the fixture caches are warmed in QEMU backends' snapshots only, after the attached repositories' warm-up; Bochs snapshots get only the latter", async (t) => {
  const { table, snapshotRequests } = fakeBackends({ snapshotDetectors: [] });
  const guests = new BackendGuests({
    image: FAKE_IMAGE,
    dataDisks: [],
    snapshots: true,
    backends: { ...table, bochs: { ...table.bochs, emulator: 'Bochs' } },
    warmUp: [{ argv: ['attached'] }],
    cacheWarmUp: [{ argv: ['fixtures'] }],
  });
  await guests.snapshot(parseTargetName('v3')!, 'tcg');
  await guests.snapshot(parseTargetName('v4')!, 'bochs');
  t.deepEqual(
    snapshotRequests.map((r) => [r.target.name, (r.warmUp ?? []).map((c) => c.argv[0])]),
    [
      ['v3', ['attached', 'fixtures']],
      ['v4', ['attached']],
    ],
  );
});
