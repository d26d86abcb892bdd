import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { parseFailed, populateWarmUp, POPULATE_SCRIPT } from '../../harness/compose/populate.js';
import { dnf5 } from '../../harness/drivers/dnf5.js';
import { zypper } from '../../harness/drivers/zypper.js';
import { guestAttachedPath, type AttachedRepo } from '../../harness/repos/catalog.js';

const repo = { name: 'release-n', dir: '/srv/n' } as unknown as AttachedRepo;
const names = Array.from({ length: 45 }, (_, i) => `lgc-v${String(44 - i).padStart(3, '0')}`);

test('the release-N warm-up: the repository set up, the names sorted in batches through the one constant script, the repository file dropped', (t) => {
  const commands = populateWarmUp(dnf5, repo, names, 20);
  const install = ['sh', '-c', POPULATE_SCRIPT, 'populate', ...dnf5.operation('install', [])!.argv];
  const batches = commands.filter((c) => c.argv[0] === 'sh');
  t.is(batches.length, 3);
  for (const b of batches) t.deepEqual(b.argv, install);
  t.deepEqual(batches.map((b) => b.input!.trim().split('\n').length), [20, 20, 5]);
  t.is(batches[0]!.input!.split('\n')[0], 'lgc-v000');
  t.deepEqual(commands.slice(0, 2), [...dnf5.configureRepos([{ id: 'release-n', path: guestAttachedPath('release-n') }]).commands]);
  t.deepEqual(commands.at(-1)!.argv, ['rm', '-f', commands[1]!.argv[1]!]);
  // zypper refreshes the repository before the installs.
  const z = populateWarmUp(zypper, repo, names, 50);
  t.deepEqual(z[2], zypper.configureRepos([{ id: 'release-n', path: guestAttachedPath('release-n') }]).refresh);
  t.is(z.filter((c) => c.argv[0] === 'sh').length, 1);
});

test('the population script, run for real: a refused batch is retried a name at a time, the culprit alone in `failed` with its own output, the others installed; it exits 0', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-populate-'));
  try {
    // A stand-in install command: refuses any set holding lgc-broken (as a solver does), else records what it installed.
    const tool = path.join(dir, 'install');
    await writeFile(tool, `#!/bin/sh\nshift\nfor n in "$@"; do [ "$n" = lgc-broken ] && { echo "nothing provides lgc-missing needed by $n"; exit 1; }; done\necho "$@" >>"${dir}/installed"\n`);
    await chmod(tool, 0o755);
    const run = (input: string) => execa('sh', ['-c', POPULATE_SCRIPT, 'populate', tool, 'install'], { input, env: { LEVELGATE_POPULATE_DIR: path.join(dir, 'state') }, reject: false });
    const first = await run('lgc-a\nlgc-broken\nlgc-c\n');
    t.is(first.exitCode, 0);
    t.deepEqual(parseFailed(await readFile(path.join(dir, 'state', 'failed'), 'utf8')), ['lgc-broken']);
    t.regex(await readFile(path.join(dir, 'state', 'lgc-broken.log'), 'utf8'), /nothing provides lgc-missing needed by lgc-broken/);
    t.deepEqual((await readFile(path.join(dir, 'installed'), 'utf8')).trim().split('\n'), ['lgc-a', 'lgc-c']);
    // A batch the tool accepts goes in at once and fails nothing; a glob in a name is not expanded.
    await rm(path.join(dir, 'installed'));
    await run('lgc-d\nlgc-*\n');
    t.deepEqual((await readFile(path.join(dir, 'installed'), 'utf8')).trim().split('\n'), ['lgc-d lgc-*']);
    t.deepEqual(parseFailed(await readFile(path.join(dir, 'state', 'failed'), 'utf8')), ['lgc-broken']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('parseFailed: one name a line, blanks and repeats dropped, sorted', (t) => {
  t.deepEqual(parseFailed('b\n\na\nb\n  \n'), ['a', 'b']);
  t.deepEqual(parseFailed(''), []);
});
