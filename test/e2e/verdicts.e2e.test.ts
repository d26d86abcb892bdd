// The verdicts are earned in real guests with the real package managers: a wrong variant
// that dies is caught, a repository that does not load is an error whatever the known
// issues say, a known issue explains exactly the checks it names (the test asserts the
// rule, not today's behaviour of the tools), and a level mismatch stops the guest.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import test from 'ava';
import { QemuGuest } from '../../harness/guest/qemu-guest.js';
import { defineScenario, enable, install, installFile, variants } from '../../harness/index.js';
import { qemuCpuArgument } from '../../harness/levels/qemu-cpu.js';
import type { KnownIssue } from '../../harness/plan/known-issues.js';
import { planCells } from '../../harness/plan/plan.js';
import { RepoCatalog } from '../../harness/repos/catalog.js';
import type { RunResult } from '../../harness/results/types.js';
import { runCell, type CellEnvironment } from '../../harness/run/cell.js';
import { prepareRun, type Prepared } from '../../harness/run/prepare.js';
import type { Scenario } from '../../harness/scenario/types.js';
import type { LevelName } from '../../harness/levels/table.js';
import type { CellGuest } from '../../harness/run/program.js';
import type { CellGuests, CellSession } from '../../harness/run/session.js';
import { LevelProofError } from '../../harness/util/errors.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';
import { removeScratch, scratchDir, testImage } from './helpers.js';

const CLI = fileURLToPath(new URL('../../runners/cli.js', import.meta.url));
/** A fixed clock: the catalog's known issues are live on it. */
const TODAY = '2026-12-01';

/** An "x86_64" package whose program was built for v3: what a wrong -march in a build root does (RHEL 10 labels v3 builds x86_64). */
const mislabelled = defineScenario({
  id: 'test-mislabelled-variant',
  title: 'A baseline package built with v3 code',
  tags: ['test'],
  drivers: ['rpm'],
  repos: { files: [{ name: 'lgbad', version: '1.0', arch: 'x86_64', compiledFor: 'v3' }] },
  steps: [installFile('files', 'lgbad-1.0-1.x86_64').expect({ runs: ['lgbad'] })],
});

/** A step whose expectation no solver can meet (a version no repository has): its cell fails whatever the tool does. */
const unmeetable = defineScenario({
  id: 'test-solver-reproducer',
  title: 'An expectation no solver can meet',
  tags: ['test'],
  drivers: ['zypper', 'dnf5'],
  repos: { main: variants('lgrepro', '1.0', ['x86_64', 'x86_64_v3']) },
  steps: [enable('main'), install('lgrepro').expect({ installed: { lgrepro: '2.0-1.x86_64' } })],
});

let scratch: string;
let prepared: Prepared;
const env = (knownIssues: readonly KnownIssue[], overrides: Partial<CellEnvironment> = {}): CellEnvironment => ({ ...prepared, knownIssues, evidenceDir: scratch, today: TODAY, ...overrides });

test.before(async () => {
  scratch = await scratchDir('verdicts');
  prepared = await prepareRun([...CATALOG, mislabelled, unmeetable, absentPackage, libraryOnly], 'auto');
});

test.after.always(async () => {
  await removeScratch(scratch);
});

const cellOf = (scenario: Scenario, level: 'v2' | 'v3', driver: 'rpm' | 'dnf5' | 'zypper') => planCells([scenario], { targets: [level], drivers: [driver] })[0]!;
const scenario = (id: string) => CATALOG.find((s) => s.id === id)!;

test.serial('a wrong variant that dies with SIGILL fails the cell, with the trap as evidence', async (t) => {
  const result = await runCell(cellOf(mislabelled, 'v2', 'rpm'), env([]));
  t.is(result.verdict, 'fail');
  // The check names the instruction behind the trap (SIGILL forensics).
  t.regex(result.reason, /^step 1 \(install local file lgbad-1\.0-1\.x86_64\.rpm\): runs lgbad: expected runs and reports lgbad 1\.0-1 x86_64, got sigill — lgbad-1\.0-1\.x86_64: \/usr\/bin\/lgbad\+0x[0-9a-f]+: v\w+ .* needs AVX2? \(x86-64-v3\); this guest is x86-64-v2$/);
  t.deepEqual(result.steps[0]!.installedAfter, ['lgbad-1.0-1.x86_64']);
  t.true(result.steps[0]!.commands.some((c) => c.signal === 'SIGILL' && c.consoleEvents.some((e) => e.startsWith('illegal-instruction: '))));
});

for (const [id, driver] of [['upgrade-new-variant', 'zypper'], ['upgrade-baseline-only', 'zypper'], ['fresh-install-mixed', 'dnf5']] as const) {
  test.serial(`${id}[v3,${driver}]: the known issues explain exactly the checks they name — with them xfail, without them the same checks fail`, async (t) => {
    const cell = cellOf(scenario(id), 'v3', driver);
    const covered = await runCell(cell, env(KNOWN_ISSUES));
    const bare = await runCell(cell, env([]));
    const failing = (r: typeof bare) => r.steps.flatMap((s) => s.checks.filter((c) => c.status === 'fail').map((c) => `${s.index}:${c.check}`));
    // Whatever today's tools do: a failing run is an expected failure exactly when the issue explains each failing check.
    t.deepEqual(failing(covered), failing(bare));
    if (bare.verdict === 'fail') {
      t.is(covered.verdict, 'xfail', covered.reason);
      t.true(covered.steps.every((s) => s.checks.every((c) => c.status !== 'fail' || c.explainedBy)));
      t.true(covered.knownIssues.length > 0);
    } else {
      t.is(bare.verdict, 'pass', bare.reason);
      t.is(covered.verdict, 'xpass', 'a fixed tool makes its known issue an unexpected pass');
    }
  });
}

/** A catalog that sends the scenario's repository to a path with no metadata: what a repository that cannot be loaded looks like to the tool. */
class BrokenRepos extends RepoCatalog {
  override async resolve(s: Scenario) {
    const repos = await super.resolve(s);
    return new Map([...repos].map(([name, repo]) => [name, { ...repo, guestPath: `/mnt/fixtures/no-such-repository/${name}` }]));
  }
}

for (const driver of ['dnf5', 'zypper'] as const) {
  test.serial(`a repository ${driver} cannot load is an error naming it, even in a cell a known issue covers`, async (t) => {
    const cell = cellOf(scenario('fresh-install-mixed'), 'v3', driver);
    const result = await runCell(cell, env(KNOWN_ISSUES, { catalog: new BrokenRepos(prepared.fixtures!.reposDir) }));
    t.is(result.verdict, 'error', result.reason);
    t.regex(result.reason, /^step 1 \(enable repositories: main\): (repository main \(fresh-install-mixed-main\) did not load: dnf5 sees none of its 6 packages; it said: .*|`zypper .* refresh` failed: repositories did not load \(fresh-install-mixed-main\): .*)$/);
  });
}

test.serial('a known issue that explains nothing in a cell it covers is an xpass', async (t) => {
  const issue: KnownIssue = {
    id: 'pretend',
    reason: 'pretend',
    tracker: 'https://example.invalid/xpass',
    expires: '2099-12-31',
    scenarios: ['glibc-hwcaps'],
    drivers: ['rpm'],
    explains: [{ check: 'loads', subject: 'lghwcaps', action: 'install-file', deviation: 'other' }],
  };
  const result = await runCell(cellOf(scenario('glibc-hwcaps'), 'v2', 'rpm'), env([issue]));
  t.is(result.verdict, 'xpass');
  t.regex(result.reason, /^known issue pretend covers this cell but found nothing to explain/);
});

test.serial('refused for the stated reason: rpm refuses an x86_64_v3 file on v2 for its architecture', async (t) => {
  const result = await runCell(cellOf(scenario('local-file-v3'), 'v2', 'rpm'), env(KNOWN_ISSUES));
  t.is(result.verdict, 'pass', result.reason);
  t.like(result.steps[0]!.checks[0], { kind: 'outcome', status: 'pass', expected: 'refused (incompatible-arch)' });
});

test.serial('a guest that does not see its level is stopped with the evidence', async (t) => {
  const error = await t.throwsAsync(QemuGuest.boot({ image: await testImage(), level: 'v3', accel: 'tcg', cpu: qemuCpuArgument('v2') }), { instanceOf: LevelProofError });
  t.regex(error!.message, /^guest levelgate-v3-\w+ does not see v3: cpuinfo: the guest sees v2, not v3 \(missing for the next level: avx avx2 bmi1 bmi2 f16c fma abm movbe xsave\)$/);
  t.regex(error!.details ?? '', /glibc: the dynamic loader supports v2, not v3/);
});

test.serial('levelgate gate writes one JSON record per cell and exits by the verdicts', async (t) => {
  const json = path.join(scratch, 'gate.json');
  const run = await execa('node', [CLI, 'gate', '--scenario', 'detection', '--level', 'v2', '--json', json, '--evidence', path.join(scratch, 'ev')], { reject: false, all: true, cwd: scratch });
  const report = JSON.parse(await readFile(json, 'utf8')) as RunResult;
  // The detection scenario asks every detector once, through rpm's cell.
  t.deepEqual(report.cells.map((c) => [c.scenario, c.level, c.driver]), [['detection', 'v2', 'rpm']]);
  t.true(report.cells.every((c) => c.reason.length > 0 && ['pass', 'xfail', 'xpass', 'fail'].includes(c.verdict)));
  t.is(run.exitCode, report.cells.some((c) => c.verdict === 'fail' || c.verdict === 'xpass') ? 1 : 0, run.all);
  t.regex(run.stdout, /^XFAIL detection\[v2,rpm\] .*known issue dnf5-no-levels\/detection/m);
  const usage = await execa('node', [CLI, 'gate', '--driver', 'yum'], { reject: false });
  t.is(usage.exitCode, 2);
  t.is(usage.stderr.trim(), "levelgate: error: --driver: 'yum' is not a driver; known: dnf5, zypper, rpm, apt, pacman");
});

for (const driver of ['zypper', 'dnf5'] as const) {
  test.serial(`a failing solver step leaves a reproducer whose ${driver} test case replays with libsolv's testsolv alone`, async (t) => {
    const result = await runCell(cellOf(unmeetable, 'v3', driver), env([]));
    t.is(result.verdict, 'fail');
    const dir = result.attachments.find((a) => a.endsWith('/reproducer'));
    t.truthy(dir, result.attachments.join(' '));
    const files = await readdir(path.join(dir!, 'solver')).catch(async () => [`no solver/: ${await readFile(path.join(dir!, 'README.txt'), 'utf8')}`]);
    t.true(files.includes('testcase.t'), files.join(' '));
    t.regex(await readFile(path.join(dir!, 'README.txt'), 'utf8'), /installed lgrepro: expected 2\.0-1\.x86_64, got 1\.0-1\.x86_64/);
    t.regex(await readFile(path.join(dir!, 'commands.sh'), 'utf8'), new RegExp(driver === 'zypper' ? 'zypper --non-interactive --no-gpg-checks .* install lgrepro' : 'dnf5 -y .* install lgrepro'));
    t.true((await readdir(path.join(dir!, 'repos', 'main'))).includes('repodata'));
    // A maintainer's machine: a guest with libsolv's tools, the test case on a disk, no levelgate inside.
    await using guest = await QemuGuest.boot({ image: await testImage(), level: 'v3', accel: 'tcg', dataFolders: [{ name: 'case', folder: path.join(dir!, 'solver') }], tmpDir: scratch });
    const replay = await guest.exec(['testsolv', 'testcase.t'], { cwd: '/mnt/case' });
    t.is(replay.exitCode, 0, `${replay.stdout}${replay.stderr}`);
  });
}

/** Guests whose detection script runs `replace` instead of a tool's own command: a detector broken on purpose, in the real guest. */
function breakingDetector(guests: CellGuests, from: string, to: string): CellGuests {
  const wrap = (guest: CellGuest): CellGuest => ({
    level: guest.level,
    fidelity: guest.fidelity,
    exec: (argv, options) => guest.exec(argv[0] === 'sh' && argv[2]?.includes('levelgate-detector') ? [argv[0], argv[1]!, argv[2].replace(from, to)] : argv, options),
  });
  return {
    async open(request) {
      const session = await guests.open(request);
      const wrapped: CellSession = {
        get proofs() {
          return session.proofs;
        },
        get consoleLogs() {
          return session.consoleLogs;
        },
        get bootMs() {
          return session.bootMs;
        },
        get facts() {
          return session.facts;
        },
        get initialInstalled() {
          return session.initialInstalled;
        },
        start: async (level: LevelName) => wrap(await session.start(level)),
        bootAt: async (level: LevelName) => wrap(await session.bootAt(level)),
        current: () => wrap(session.current()),
        dispose: () => session.dispose(),
      };
      return wrapped;
    },
  };
}

test.serial('detection[v3,rpm] with rpm replaced by a command that segfaults: fail, naming the exit status — the known issues that make the cell xfail do not absorb it', async (t) => {
  const cell = cellOf(scenario('detection'), 'v3', 'rpm');
  const intact = await runCell(cell, env(KNOWN_ISSUES));
  t.is(intact.verdict, 'xfail', intact.reason);
  const broken = await runCell(cell, env(KNOWN_ISSUES, { guests: breakingDetector(prepared.guests, 't rpm "^install arch" rpm --showrc', 't rpm "^install arch" sh -c "kill -SEGV \\$\\$"') }));
  t.is(broken.verdict, 'fail', broken.reason);
  t.is(broken.reason, 'step 1 (detect the machine arch): detector rpm: expected v3 (x86_64_v3), got failed: rpm --showrc failed: exit 139 (killed by SIGSEGV); it printed: no output');
});

/** Two packages; the step installs one and expects the other's programs to run. */
const absentPackage = defineScenario({
  id: 'test-runs-absent-package',
  title: 'runsPackage of a package the step did not install',
  tags: ['test'],
  drivers: ['rpm'],
  repos: { files: [...variants('lgthere', '1.0', ['x86_64']), ...variants('lgabsent', '1.0', ['x86_64'])] },
  steps: [installFile('files', 'lgthere-1.0-1.x86_64').expect({ runsPackage: ['lgthere', 'lgabsent'] })],
});

test.serial('runsPackage of a package that is not installed fails in a real cell (it used to pass as "ships no program")', async (t) => {
  const result = await runCell(cellOf(absentPackage, 'v2', 'rpm'), env([]));
  t.is(result.verdict, 'fail', result.reason);
  t.is(result.reason, 'step 1 (install local file lgthere-1.0-1.x86_64.rpm): programs of lgabsent: expected installed, and every program and library runs, got not installed');
  t.like(result.steps[0]!.checks.find((c) => c.subject === 'lgthere'), { status: 'pass' });
});

test.serial('arch-pin[v3,dnf5] asserts the pin itself: it passes with the pin, and fails when the pin step is removed', async (t) => {
  const pinned = scenario('arch-pin');
  const withPin = await runCell(cellOf(pinned, 'v3', 'dnf5'), env(KNOWN_ISSUES));
  t.is(withPin.verdict, 'pass', withPin.reason);
  const unpinned = defineScenario({ ...pinned, id: 'arch-pin', steps: pinned.steps.filter((s) => s.action.kind !== 'pin') });
  const without = await runCell(cellOf(unpinned, 'v3', 'dnf5'), env(KNOWN_ISSUES));
  t.is(without.verdict, 'fail');
  t.regex(without.reason, /^step 3 \(install lgpin\.x86_64_v3\): outcome: expected refused \(conflict\), got /);
});

test.serial("a typo in an expectation's subject is a usage error (exit 2) naming the file, scenario and name, before any guest boots", async (t) => {
  const project = path.join(scratch, 'typo-project');
  await mkdir(path.join(project, 'scenarios'), { recursive: true });
  const api = new URL('../../harness/index.js', import.meta.url).href;
  await writeFile(path.join(project, 'levelgate.config.mjs'), `export default { scenarios: ['scenarios'] };\n`);
  await writeFile(
    path.join(project, 'scenarios', 'typo.mjs'),
    `import { best, defineScenario, enable, install, variants } from '${api}';\n` +
      `export default defineScenario({ id: 'typo', title: 'a typo', drivers: ['dnf5'], repos: { main: variants('lgtypo', '1.0', ['x86_64']) },\n` +
      `  steps: [enable('main'), install('lgtypo').expect({ installed: { lgtpyo: best } })] });\n`,
  );
  const started = Date.now();
  const run = await execa('node', [CLI, 'gate', '--level', 'v2', '--json', path.join(project, 'gate.json')], { cwd: project, reject: false, all: true });
  t.is(run.exitCode, 2, run.all);
  t.regex(run.stderr, /scenario 'typo' \(scenarios\/typo\.mjs\): steps\[1\]: expect installed: 'lgtpyo' is no package of the scenario's repositories; they build lgtypo/);
  t.false(/booted|restored|snapshot/.test(run.all ?? ''), run.all);
  t.true(Date.now() - started < 60_000);
});

/** A library-only package (openSUSE's libfoo1-x86-64-v3: glibc-hwcaps copies only), from the catalog's own hwcaps-pattern repositories. */
const hwcapsPattern = CATALOG.find((s) => s.id === 'hwcaps-pattern')!;
const libraryOnly = defineScenario({
  id: 'test-library-only-package',
  title: 'The loader judges a package that ships only a library',
  tags: ['test'],
  drivers: ['zypper'],
  repos: hwcapsPattern.repos,
  steps: [enable('tumbleweed', 'hwcaps'), install('lgpat-x86-64-v3').expect({ runsPackage: ['lgpat-x86-64-v3'] })],
});

test.serial('a library-only package runs when the real loader selects a copy the CPU allows and loads it: the v3 copy on v3, never it on v2', async (t) => {
  // zypper also brings what supplements the CPU (the v2 pattern and its copy on v2): the loader picks the best copy the CPU allows.
  const expected = { v2: /^loads \/usr\/lib64\/(?:glibc-hwcaps\/x86-64-v2\/)?liblgpat\.so\.1$/, v3: /^loads \/usr\/lib64\/glibc-hwcaps\/x86-64-v3\/liblgpat\.so\.1$/ };
  for (const level of ['v2', 'v3'] as const) {
    const result = await runCell(cellOf(libraryOnly, level, 'zypper'), env([]));
    t.is(result.verdict, 'pass', `${level}: ${result.reason}`);
    const check = result.steps[1]!.checks.find((c) => c.kind === 'runs')!;
    t.regex(check.actual, expected[level], level);
    t.true(result.steps[1]!.commands.some((c) => c.role === 'program' && c.command.startsWith('/lib64/ld-linux-x86-64.so.2 --preload /usr/lib64/') && c.exitCode === 0), level);
  }
});
