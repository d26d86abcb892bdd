// Drivers assume nothing of a distribution's layout they can create or point to: on a
// fake guest whose root has no /etc/yum.repos.d, /etc/zypp or /etc/rpm (an image laid
// out unlike the stand-ins), each driver's setup commands run for real (mkdir, tee on
// the host, every absolute path moved under the fake root) and leave the repository
// file where every later command of that driver reads repositories from.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import test from 'ava';
import { DNF5_CACHE_DIR, DNF5_REPO_FILE, DNF5_REPOS_DIR, dnf5, dnf5RepoFile } from '../../harness/drivers/dnf5.js';
import type { GuestCommand } from '../../harness/model/guest.js';
import { RPM_PLATFORM_FILE, rpm } from '../../harness/drivers/rpm.js';
import { ZYPPER_CACHE_DIR, ZYPPER_REPO_FILE, ZYPPER_REPOS_DIR, zypper } from '../../harness/drivers/zypper.js';
import { attachedRepoWarmUp } from '../../harness/repos/warm-up.js';

/** Runs guest commands in `root` as a guest with an empty /etc would: absolute paths of /etc and /var moved under it. */
async function runIn(root: string, commands: readonly GuestCommand[]): Promise<{ argv: string; exitCode: number }[]> {
  const results = [];
  for (const c of commands) {
    const argv = c.argv.map((a) => (/^\/(?:etc|var)\//.test(a) ? path.join(root, a) : a));
    const r = await execa(argv[0]!, argv.slice(1), { reject: false, ...(c.input !== undefined ? { input: c.input } : {}) });
    results.push({ argv: c.argv.join(' '), exitCode: r.exitCode ?? -1 });
  }
  return results;
}

const repos = [{ id: 's-base', path: '/mnt/fixtures/s/base' }];

test('dnf5 and zypper create their repository and cache directories, and every command reads only them', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bare-guest-'));
  try {
    // The old setup assumed the image's directory: it fails here.
    t.is((await runIn(root, [{ argv: ['find', '/etc/yum.repos.d', '-name', '*.repo', '-delete'] }]))[0]!.exitCode, 1);

    t.true((await runIn(root, dnf5.configureRepos(repos).commands)).every((r) => r.exitCode === 0));
    t.is(await readFile(path.join(root, DNF5_REPO_FILE), 'utf8'), dnf5RepoFile(repos));
    t.true((await stat(path.join(root, DNF5_CACHE_DIR))).isDirectory());
    for (const argv of [dnf5.operation('install', ['x'])!.argv, dnf5.repoView().argv, dnf5.listUpdates()!.argv, dnf5.installFile('/x.rpm').argv]) {
      t.true(argv.includes(`--setopt=reposdir=${DNF5_REPOS_DIR}`) && argv.includes(`--setopt=system_cachedir=${DNF5_CACHE_DIR}`), argv.join(' '));
    }

    const z = zypper.configureRepos(repos);
    t.true((await runIn(root, z.commands)).every((r) => r.exitCode === 0));
    t.true((await stat(path.join(root, ZYPPER_REPO_FILE))).isFile());
    t.true((await stat(path.join(root, ZYPPER_CACHE_DIR))).isDirectory());
    for (const argv of [z.refresh!.argv, zypper.operation('install', ['x'])!.argv, zypper.repoView().argv, zypper.installFile('/x.rpm').argv, zypper.listUpdates()!.argv]) {
      t.deepEqual(argv.slice(3, 7), ['--reposd-dir', ZYPPER_REPOS_DIR, '--cache-dir', ZYPPER_CACHE_DIR], argv.join(' '));
    }
    // Files written into the tools' own configuration directories: the directory is created first.
    t.true((await runIn(root, zypper.overrideArch('x86_64_v2')!)).every((r) => r.exitCode === 0));
    t.regex(await readFile(path.join(root, 'etc/zypp/zypp.conf'), 'utf8'), /\[main\]\narch = x86_64_v2\n/);
    t.true((await runIn(root, rpm.overrideArch('x86_64_v2')!)).every((r) => r.exitCode === 0));
    t.is(await readFile(path.join(root, RPM_PLATFORM_FILE), 'utf8'), 'x86_64_v2-pc-linux\n');
    t.deepEqual(zypper.pin({ name: 'p', arch: 'x86_64' })![0]!.argv, ['mkdir', '-p', '/etc/zypp']);
    t.true((await runIn(root, dnf5.pin({ name: 'p', arch: 'x86_64' })!)).every((r) => r.exitCode === 0));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test("the snapshot warm-up loads attached repositories where the cells' commands will read them", (t) => {
  const warmUp = attachedRepoWarmUp([{ name: 'compose', dir: '/srv/compose', metadata: { packages: [] } } as never]);
  const makecache = warmUp.find((c) => c.argv[0] === 'dnf5')!;
  t.true(makecache.argv.includes(`--setopt=reposdir=${DNF5_REPOS_DIR}`) && makecache.argv.includes(`--setopt=system_cachedir=${DNF5_CACHE_DIR}`));
  const refresh = warmUp.find((c) => c.argv[0] === 'zypper')!;
  t.deepEqual(refresh.argv.slice(3, 7), ['--reposd-dir', ZYPPER_REPOS_DIR, '--cache-dir', ZYPPER_CACHE_DIR]);
});
