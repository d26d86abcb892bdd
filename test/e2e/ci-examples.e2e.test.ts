// The CI examples a user copies into their own project, proven by running them: the
// GitLab example's jobs run with gitlab-ci-local (shell executor) in a new project that
// installs levelgate's tarball; the GitHub workflow passes @action-validator/cli (GitHub's
// schema), and a broken copy of either does not. The tmt plan is checked for what it
// must say; tmt itself is in neither Debian nor npm, so it is not run.
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { cacheRoot } from '../../harness/host/cache.js';
import type { RunResult } from '../../harness/results/types.js';
import { ciTools } from './ci-tools.js';
import { CHECKOUT, npxLevelgate, projectInstalling, run, scratch } from './package.js';

const GITHUB = path.join(CHECKOUT, 'docs/ci/github-actions.yml');
const GITLAB = path.join(CHECKOUT, 'docs/ci/gitlab-ci.yml');
const TMT = path.join(CHECKOUT, 'docs/ci/tmt/levelgate.fmf');

let bin: string;
let top: { dir: string; remove: () => Promise<void> };

test.before(async () => {
  bin = await ciTools();
  top = await scratch('ci-examples');
});

test.after.always(async () => {
  await top?.remove();
});

test('the GitHub Actions example passes action-validator, and a broken copy does not', async (t) => {
  const valid = await run(path.join(bin, 'action-validator'), [GITHUB], CHECKOUT);
  t.is(valid.exitCode, 0, valid.all);
  const text = await readFile(GITHUB, 'utf8');
  const broken = path.join(top.dir, 'broken-workflow.yml');
  await writeFile(broken, text.replace('timeout-minutes: 10', 'timeout-minutes: ten'));
  const invalid = await run(path.join(bin, 'action-validator'), [broken], CHECKOUT);
  t.not(invalid.exitCode, 0);
  t.regex(invalid.all, /timeout-minutes/);
  // What a user's project needs of it.
  t.regex(text, /key: levelgate-\$\{\{ matrix\.level \}\}-/, 'a cache per level');
  t.regex(text, /checks: write/);
  t.regex(text, /npx levelgate gate --require-levels --require-fidelity traps --level \$\{\{ matrix\.level \}\}/);
  t.regex(text, /image: node:20-bookworm/);
  t.is(text.match(/timeout-minutes: \d+/g)?.length, 2, 'both jobs have a timeout');
  t.notRegex(text, /run: .*(sudo|\.\/levelgate)/, 'no sudo (secure_path drops PATH), no checkout launcher');
});

test('the tmt plan runs one level per test and says it was not run here', async (t) => {
  const text = await readFile(TMT, 'utf8');
  for (const level of ['v1', 'v2', 'v3', 'v4']) t.regex(text, new RegExp(`- name: ${level}\\n(\\s+#.*\\n)*\\s+test: .*npx levelgate gate --require-levels --require-fidelity traps --level ${level} `));
  t.regex(text, /NOT RUN HERE/);
});

test.serial('the GitLab example\'s jobs run with gitlab-ci-local: a gate job, then the merged report', async (t) => {
  t.timeout(15 * 60_000);
  const project = path.join(top.dir, 'gitlab');
  // The project installs levelgate from a tarball of this checkout's build.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', top.dir, '--loglevel=error'], CHECKOUT);
  t.is(packed.exitCode, 0, packed.all);
  const install = await projectInstalling(project, path.join(top.dir, packed.stdout.trim().split('\n').at(-1)!));
  t.is(install.exitCode, 0, install.all);
  const example = await readFile(GITLAB, 'utf8');
  t.regex(example, /privileged = true/, 'says which runner it needs');
  t.regex(example, /image: node:20-bookworm/);
  t.regex(example, /prefix: levelgate-\$LEVEL/, 'a cache per level');
  // The example runs as written: the flags it uses are levelgate's.
  const help = await npxLevelgate(project, ['gate', '--help']);
  t.regex(help.stdout, /--require-fidelity traps/);
  await writeFile(path.join(project, '.gitlab-ci.yml'), example);
  await writeFile(path.join(project, '.gitignore'), 'node_modules/\n.gitlab-ci-local/\nreports/\n');
  const git = (args: string[]) => run('git', ['-c', 'user.name=levelgate-test', '-c', 'user.email=test@levelgate.invalid', ...args], project);
  await git(['init', '-q', '-b', 'main']);
  await git(['remote', 'add', 'origin', 'git@gitlab.example.com:qa/distro-qa.git']);
  await git(['add', '-A']);
  await git(['commit', '-q', '-m', 'the example']);

  // One small cell (a pipeline variable narrows the gate), on this machine's guest cache; --accel tcg spares
  // the KVM probe (up to 100 s on a host whose KVM opens but does not boot guests).
  const gitlab = (jobs: string[]) =>
    run(path.join(bin, 'gitlab-ci-local'), ['--force-shell-executor', '--variable', `LEVELGATE_CACHE=${cacheRoot()}`, '--variable', 'LEVELGATE_ARGS=--scenario detection --driver rpm --accel tcg', ...jobs], project);
  const gate = await gitlab(['gate: [v1]']);
  t.is(gate.exitCode, 0, gate.all);
  const report = JSON.parse(await readFile(path.join(project, 'reports/gate-v1.json'), 'utf8')) as RunResult;
  t.deepEqual(report.cells.map((c) => [c.id, c.verdict]), [['detection[v1,rpm]', 'pass']]);
  t.is(report.cells[0]!.repro, 'npx levelgate repro detection --level v1 --driver rpm --accel tcg');
  const merged = await gitlab(['report']);
  t.is(merged.exitCode, 0, merged.all);
  t.regex(await readFile(path.join(project, 'reports/junit.xml'), 'utf8'), /<testcase [^>]*name="detection\[v1,rpm\]"/);

  // A broken copy is refused before any job runs.
  await copyFile(path.join(project, '.gitlab-ci.yml'), path.join(project, 'good.yml'));
  await writeFile(path.join(project, '.gitlab-ci.yml'), example.replace('stage: report', 'stage: publish'));
  const refused = await gitlab(['--list']);
  t.not(refused.exitCode, 0, refused.all);
  t.regex(refused.all, /publish/);
});
