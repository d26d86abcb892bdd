// The verdict rules, proven on the real cell runner with fake guests (no QEMU): each
// test breaks one thing and checks the verdict the rule demands. Remove a rule and its
// test fails.
import { BACKENDS } from '../../harness/accel/backends.js';
import { Placer } from '../../harness/accel/placement.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { AccelChoice } from '../../harness/accel/choose.js';
import { atLeast, attached, best, defineKnownIssue, defineScenario, deviation, enable, install, installFile, listUpdates, overrideArch, pin, setEnv, variants } from '../../harness/index.js';
import { validateScenarios } from '../../harness/scenario/validate.js';
import type { Fidelity } from '../../harness/levels/canaries.js';
import type { LevelName } from '../../harness/levels/table.js';
import type { KnownIssue } from '../../harness/plan/known-issues.js';
import { planCells } from '../../harness/plan/plan.js';
import { RepoCatalog, guestAttachedPath, guestFixturePath } from '../../harness/repos/catalog.js';
import { readRepoMetadata } from '../../harness/repos/repodata.js';
import { countVerdicts, exitCodeOf } from '../../harness/results/summary.js';
import type { CellResult } from '../../harness/results/types.js';
import { runCell, type CellEnvironment } from '../../harness/run/cell.js';
import { DETECTORS, factDetectors } from '../../harness/drivers/detectors.js';
import type { Scenario } from '../../harness/scenario/types.js';
import { fakeGuests } from '../fixtures/fake-guests.js';
import type { CellGuests } from '../../harness/run/session.js';
import { GuestError, InitKilledError } from '../../harness/util/errors.js';
import { fakePm, nevra, type FakePm } from '../fixtures/fake-pm.js';
import type { FakeReply } from '../fixtures/fake-guests.js';
import { writeRepo, type FakePackage } from '../fixtures/repodata.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';

const TODAY = '2026-12-01';
let root: string;
test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'levelgate-rules-'));
});
test.after.always(async () => {
  await rm(root, { recursive: true, force: true });
});

const scenario = defineScenario({
  id: 'rules',
  title: 'a fresh install from a mixed repository',
  drivers: ['dnf5', 'rpm'],
  repos: { main: variants('lgx', '1.0', ['x86_64', 'x86_64_v3']), files: variants('lgfile', '1.0', ['x86_64_v3']) },
  steps: [enable('main'), install('lgx').expect({ installed: { lgx: best }, runs: ['lgx'] })],
});

/** dnf5 installing x86_64 on a v3 CPU: a known shortfall, explained by exactly this issue. */
const wrongArchIssue: KnownIssue = defineKnownIssue({
  id: 'no-levels',
  reason: 'installs x86_64 where a better variant exists',
  tracker: 'https://example.invalid/no-levels',
  expires: '2027-06-30',
  scenarios: ['rules'],
  drivers: ['dnf5'],
  levels: atLeast('v3'),
  explains: [deviation.installedArch('lgx', 'install')],
});

/** The repositories of `s` written as metadata under `root`; returns guest path → packages. */
async function repos(s: Scenario, root: string): Promise<Record<string, FakePackage[]>> {
  const byPath: Record<string, FakePackage[]> = {};
  for (const [name, spec] of Object.entries(s.repos)) {
    if (spec.kind !== 'fixture') continue;
    const packages = spec.builds.map((b) => ({ name: b.name, version: b.version, arch: b.arch }));
    await writeRepo(path.join(root, s.id, name), packages);
    byPath[guestFixturePath(s.id, name)] = packages;
  }
  return byPath;
}

/** What a package manager does: install `pick` when asked for `lgx`; a program prints its package. */
function installs(pick: FakePackage, overrides: (command: string, pm: FakePm) => FakeReply | undefined = () => undefined) {
  return (command: string, pm: FakePm): FakeReply | undefined => {
    const o = overrides(command, pm);
    if (o) return o;
    if (/^dnf5 .* install lgx$/.test(command)) {
      pm.installed.push(nevra(pick));
      return { stdout: 'Complete!\n' };
    }
    if (command === '/usr/bin/lgx') return { stdout: `lgx ${pick.version}-1 ${pick.arch}\n` };
    return undefined;
  };
}

interface RunOptions {
  readonly level?: LevelName;
  readonly driver?: 'dnf5' | 'rpm';
  readonly knownIssues?: readonly KnownIssue[];
  readonly fidelity?: Fidelity;
  readonly accel?: (target: string) => AccelChoice;
  readonly requireLevels?: boolean;
  readonly requireFidelity?: 'traps';
  readonly today?: string;
}

/** The host's backend records (nothing boots: the guests are fakes) placed by `choose`, at an idle host's limits. */
const placer = (choose: (target: string) => AccelChoice) => new Placer({ choose, backends: BACKENDS, stretch: 1 });

/** A cell environment of fake guests over the fixture repositories under `fixtures`. */
function fakeEnvironment(fixtures: string, guests: ReturnType<typeof fakeGuests>): CellEnvironment {
  return {
    image: { digest: 'fake', kernel: 'fake', packages: {} },
    guests,
    catalog: new RepoCatalog(fixtures),
    placement: placer((l) => ({ target: l, accel: 'tcg', why: 'fake' })),
    knownIssues: [],
    evidenceDir: path.join(fixtures, 'evidence'),
    today: TODAY,
  };
}

async function run(s: Scenario, on: (command: string, pm: FakePm) => FakeReply | undefined, options: RunOptions = {}): Promise<CellResult> {
  // Each run its own fixture root: tests run at once.
  const fixtures = await mkdtemp(path.join(root, 'run-'));
  const pm = fakePm(await repos(s, fixtures), on);
  const level = options.level ?? 'v3';
  const cell = planCells([s], { targets: [level], drivers: [options.driver ?? 'dnf5'] })[0]!;
  return runCell(cell, {
    ...fakeEnvironment(fixtures, fakeGuests(pm.script, options.fidelity ? { fidelity: options.fidelity } : {})),
    ...(options.accel ? { placement: placer(options.accel) } : {}),
    knownIssues: options.knownIssues ?? [],
    today: options.today ?? TODAY,
    ...(options.requireLevels ? { requireLevels: true } : {}),
    ...(options.requireFidelity ? { requireFidelity: options.requireFidelity } : {}),
  });
}

const X86_64: FakePackage = { name: 'lgx', version: '1.0', arch: 'x86_64' };
const V3: FakePackage = { name: 'lgx', version: '1.0', arch: 'x86_64_v3' };

test('the best variant installed and running: pass', async (t) => {
  const result = await run(scenario, installs(V3));
  t.is(result.verdict, 'pass', result.reason);
  t.deepEqual(result.steps[1]!.installedAfter, ['lgx-1.0-1.x86_64_v3']);
});

test('the installed-set reads are timed apart from the package manager (harness.installedQueryMs), each command counted once', async (t) => {
  const result = await run(scenario, installs(V3));
  const commands = result.steps.flatMap((s) => s.commands);
  const reads = commands.filter((c) => c.command.startsWith('rpm -qa'));
  t.true(reads.length > 0);
  // The fake guest answers each command in 1 ms.
  t.is(result.timings.harness?.installedQueryMs, reads.length);
  t.is(result.timings.packageManagerMs, commands.filter((c) => c.role !== 'program').length - reads.length);
  t.deepEqual({ ...result.timings.harness, installedQueryMs: 0 }, { detectMs: 0, powerOffMs: 0, installedQueryMs: 0, reproducerMs: 0 });
});

test('a live known issue explaining every failing check: xfail, and the check names the issue', async (t) => {
  const result = await run(scenario, installs(X86_64), { knownIssues: [wrongArchIssue] });
  t.is(result.verdict, 'xfail');
  t.regex(result.reason, /^step 2 \(install lgx\): installed lgx: expected 1\.0-1\.x86_64_v3, got 1\.0-1\.x86_64 — known issue no-levels: /);
  t.deepEqual(result.knownIssues.map((i) => i.id), ['no-levels']);
  t.is(result.steps[1]!.checks.find((c) => c.kind === 'installed')?.explainedBy, 'no-levels');
});

test('a failing check the known issue does not explain (another version, not another arch) fails the covered cell', async (t) => {
  const older: FakePackage = { name: 'lgx', version: '0.9', arch: 'x86_64' };
  const result = await run(scenario, installs(older), { knownIssues: [wrongArchIssue] });
  t.is(result.verdict, 'fail');
  t.regex(result.reason, /^step 2 \(install lgx\): installed lgx: expected 1\.0-1\.x86_64_v3, got 0\.9-1\.x86_64/);
});

test('a package operation that hung (timed out while the guest answered) fails the covered cell, naming the command; no known issue excuses it', async (t) => {
  const result = await run(scenario, installs(X86_64, (c) => (/ install lgx$/.test(c) ? { timedOut: true } : undefined)), { knownIssues: [wrongArchIssue] });
  t.is(result.verdict, 'fail');
  t.is(result.errorSource, undefined);
  t.regex(result.reason, /^step 2 \(install lgx\): `dnf5 -y --releasever=sid --setopt=reposdir=\/etc\/levelgate\/dnf5\/repos\.d (?:--setopt=\S+ )+install lgx` hung: it did not finish within 300 s and was killed \(the guest still answered\)$/);
  // The evidence: the step is recorded with the command and a failing check.
  const step = result.steps[1]!;
  t.is(step.commands.find((c) => c.role === 'action')?.timedOut, true);
  t.deepEqual(step.checks.map((c) => [c.status, c.deviation]), [['fail', 'hung']]);
});

test("a package manager killed by a signal, or exiting outside its contract, fails the cell (not an error, not retried)", async (t) => {
  const crashed = await run(scenario, installs(X86_64, (c) => (/ install lgx$/.test(c) ? { signal: 'SIGSEGV', stderr: 'Segmentation fault\n' } : undefined)), { knownIssues: [wrongArchIssue] });
  t.is(crashed.verdict, 'fail');
  t.regex(crashed.reason, /^step 2 \(install lgx\): `dnf5 .* install lgx` failed: dnf5 was killed by SIGSEGV$/);
  t.deepEqual(crashed.steps[1]!.checks.map((c) => [c.status, c.deviation, c.actual]), [['fail', 'signal', 'killed by SIGSEGV']]);
  const outside = await run(scenario, installs(X86_64, (c) => (/ install lgx$/.test(c) ? { exitCode: 134, stderr: 'Aborted\n' } : undefined)));
  t.is(outside.verdict, 'fail');
  t.regex(outside.reason, /failed: dnf5 exit status 134, outside its contract \(0, 1 or 2\): Aborted$/);
  t.deepEqual(outside.steps[1]!.checks.map((c) => c.deviation), ['exit']);
});

test('only the emulator is infrastructure that a retry may settle: a guest death is an error from the emulator, a repository that did not load one from the harness', async (t) => {
  const died = await run(scenario, installs(V3, (c) => (/ install lgx$/.test(c) ? { throws: new GuestError('guest lg-1: QEMU was killed by SIGKILL') } : undefined)));
  t.is(died.verdict, 'error');
  t.is(died.errorSource, 'emulator');
  const lost = await run(scenario, installs(V3, (c) => (c.includes('repoquery') ? { stdout: '\n' } : undefined)));
  t.is(lost.verdict, 'error');
  t.is(lost.errorSource, 'harness');
});

test('a failed rpm -qa fails the cell (the package manager broke its contract), never reads as "nothing installed"', async (t) => {
  const result = await run(scenario, installs(X86_64, (c) => (c.startsWith('rpm -qa') ? { exitCode: 1, stderr: 'error: cannot open Packages database in /var/lib/rpm\n' } : undefined)), {
    knownIssues: [wrongArchIssue],
  });
  t.is(result.verdict, 'fail');
  t.regex(result.reason, /^step 1 \(enable repositories: main\): `rpm -qa --qf .*` failed: exit status 1: error: cannot open Packages database in \/var\/lib\/rpm$/);
});

test('a repository the tool did not load is an error naming it and what the tool said', async (t) => {
  const result = await run(scenario, installs(V3, (c) => (c.includes('repoquery') ? { stdout: '\n', stderr: ">>> Curl error (37): Could not read a file:// file for file:///mnt/fixtures/rules/main/repodata/repomd.xml\n" } : undefined)));
  t.is(result.verdict, 'error');
  t.regex(result.reason, /^step 1 \(enable repositories: main\): repository main \(rules-main\) did not load: dnf5 sees none of its 2 packages; it said: >>> Curl error \(37\)/);
});

test('a listing of updates that exits outside the contract (not 0 or 100) fails the cell', async (t) => {
  const s = defineScenario({ ...scenario, id: 'rules', steps: [enable('main'), listUpdates().expect({ updatesListed: [] })] });
  const result = await run(s, installs(V3, (c) => (c.endsWith('check-upgrade') ? { exitCode: 1, stderr: 'Error: something broke\n' } : undefined)));
  t.is(result.verdict, 'fail');
  t.regex(result.reason, /check-upgrade` failed: exit status 1: Error: something broke$/);
});

test('"refused" means refused for the stated reason: another reason fails, a missing file is an error', async (t) => {
  const s = defineScenario({
    ...scenario,
    steps: [installFile('files', 'lgfile-1.0-1.x86_64_v3').expect({ refused: 'incompatible-arch', installed: { lgfile: null } })],
  });
  const right = await run(s, (c) => (c.startsWith('rpm -i') ? { exitCode: 1, stderr: '\tpackage lgfile-1.0-1.x86_64_v3 is intended for a different architecture\n' } : undefined), { driver: 'rpm', level: 'v2' });
  t.is(right.verdict, 'pass', right.reason);
  const wrong = await run(s, (c) => (c.startsWith('rpm -i') ? { exitCode: 1, stderr: 'error: Failed dependencies:\n\tlgbase is needed by lgfile-1.0-1.x86_64_v3\n' } : undefined), { driver: 'rpm', level: 'v2' });
  t.is(wrong.verdict, 'fail');
  t.regex(wrong.reason, /outcome: expected refused \(incompatible-arch\), got refused \(dependency\): /);
  t.is(wrong.steps[0]!.checks[0]!.deviation, 'wrong-refusal');
  const missing = await run(s, (c) => (c.startsWith('rpm -i') ? { exitCode: 1, stderr: 'error: open of /mnt/fixtures/rules/files/lgfile-1.0-1.x86_64_v3.rpm failed: No such file or directory\n' } : undefined), { driver: 'rpm', level: 'v2' });
  t.is(missing.verdict, 'error');
});

test('a known issue that explains nothing in a cell it covers is an xpass', async (t) => {
  const result = await run(scenario, installs(V3), { knownIssues: [wrongArchIssue] });
  t.is(result.verdict, 'xpass');
  t.regex(result.reason, /^known issue no-levels covers this cell but found nothing to explain: every check passed \(https:\/\/example\.invalid\/no-levels\): remove it or narrow what it covers$/);
});

test('an expired known issue excuses nothing and is listed on the cell', async (t) => {
  const result = await run(scenario, installs(X86_64), { knownIssues: [wrongArchIssue], today: '2027-07-01' });
  t.is(result.verdict, 'fail');
  t.deepEqual(result.expiredKnownIssues.map((i) => i.id), ['no-levels']);
});

test('a check that relies on traps is a skip under masks-only fidelity, a failure under traps', async (t) => {
  const s = defineScenario({ ...scenario, steps: [enable('main'), install('lgx').expect({ dies: ['lgx'] })] });
  const masks = await run(s, installs(V3), { fidelity: 'masks-only' });
  t.is(masks.verdict, 'skip');
  t.regex(masks.reason, /dies lgx not judged: relies on the CPU trapping instructions above v3; this guest's fidelity is masks-only$/);
  const traps = await run(s, installs(V3), { fidelity: 'traps' });
  t.is(traps.verdict, 'fail');
  t.is(traps.steps[1]!.checks.find((c) => c.kind === 'dies')?.deviation, 'ran');
});

test('a level the host cannot provide: skip, or error with --require-levels; a run of skips exits 77, never 0', async (t) => {
  const none = (l: string): AccelChoice => ({ target: l, accel: null, skipReason: `no accelerator provides ${l} on this host — tcg: TCG cannot provide this CPU` });
  const skipped = await run(scenario, installs(V3), { level: 'v4', accel: none });
  t.is(skipped.verdict, 'skip');
  t.is(exitCodeOf({ counts: countVerdicts([skipped]) }), 77);
  const required = await run(scenario, installs(V3), { level: 'v4', accel: none, requireLevels: true });
  t.is(required.verdict, 'error');
  t.is(required.reason, 'level v4 is required (--require-levels) but no accelerator provides v4 on this host — tcg: TCG cannot provide this CPU');
  t.is(exitCodeOf({ counts: countVerdicts([required]) }), 3);
});

test('a step without expectations still has to succeed: a refused operation fails the cell', async (t) => {
  const s = defineScenario({ ...scenario, steps: [enable('main'), install('lgx')] });
  const result = await run(s, (c) => (/ install lgx$/.test(c) ? { exitCode: 1, stderr: 'Failed to resolve the transaction:\nNo match for argument: lgx\n' } : undefined));
  t.is(result.verdict, 'fail');
  t.regex(result.reason, /outcome: expected succeeds, got refused \(not-found\)/);
});

test('a program that hangs fails the cell (the guest still answered), one that dies of SIGILL a failing check', async (t) => {
  const hung = await run(scenario, installs(V3, (c) => (c === '/usr/bin/lgx' ? { timedOut: true } : undefined)));
  t.is(hung.verdict, 'fail');
  t.regex(hung.reason, /program \/usr\/bin\/lgx hung: it did not finish within 60 s and was killed \(the guest still answered\)$/);
  const died = await run(scenario, installs(V3, (c) => (c === '/usr/bin/lgx' ? { signal: 'SIGILL' } : undefined)));
  t.is(died.verdict, 'fail');
  t.regex(died.reason, /runs lgx: expected runs and reports lgx 1\.0-1 x86_64_v3, got sigill$/);
});

test('set-env: every later command runs with the variables; a forced rpm -i runs rpm whatever the driver; both variants side by side are checked as a set', async (t) => {
  const s = defineScenario({
    id: 'forced',
    title: 'a user forces a second variant in',
    drivers: ['dnf5'],
    repos: { main: variants('lgx', '1.0', ['x86_64', 'x86_64_v3']) },
    steps: [
      enable('main'),
      setEnv({ GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX2' }),
      installFile('main', 'lgx-1.0-1.x86_64_v3', { rpm: ['--ignorearch', '--replacefiles'] }).expect({ installed: { lgx: ['1.0-1.x86_64_v3', '1.0-1.x86_64'] } }),
    ],
  });
  const fixtures = await mkdtemp(path.join(root, 'forced-'));
  const pm = fakePm(await repos(s, fixtures), (command, p) => {
    if (command.startsWith('rpm -i --ignorearch --replacefiles ')) {
      p.installed.push('lgx-1.0-1.x86_64', 'lgx-1.0-1.x86_64_v3');
      return {};
    }
    return undefined;
  });
  const guests = fakeGuests(pm.script);
  const result = await runCell(planCells([s], { targets: ['v2'] })[0]!, fakeEnvironment(fixtures, guests));
  t.is(result.verdict, 'pass', result.reason);
  const guest = guests.guests[0]!;
  const forced = guest.calls.findIndex((c) => c.startsWith('rpm -i --ignorearch --replacefiles /'));
  t.true(forced > 0, guest.calls.join('\n'));
  t.deepEqual(guest.envs[forced], { GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX2' });
  // Before the set-env step, nothing extra.
  t.is(guest.envs[0], undefined);
  t.deepEqual(result.steps[2]!.checks.map((c) => [c.check, c.status, c.actual]), [
    ['outcome', 'pass', 'succeeded'],
    ['installed lgx', 'pass', '1.0-1.x86_64 + 1.0-1.x86_64_v3'],
  ]);
});

test('an arch override the driver does not have is an error naming the drivers that have one, before any guest boots', async (t) => {
  const s = defineScenario({ id: 'override', title: 'override', drivers: ['dnf5'], steps: [overrideArch('x86_64_v2')] });
  t.deepEqual(validateScenarios([s]).map((p) => p.replace(/^.*steps\[0\]: /, '')), ['overrideArch: dnf5 has no arch override (dnf5#1468); run this scenario with zypper or rpm']);
});

test('detection[v3,rpm] with rpm dying of SIGSEGV and zypper printing "Segmentation fault": fail, though known issues cover the cell (the crash is no "absent" detector)', async (t) => {
  const v3 = await readFile(path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'detection', 'v3.txt'), 'utf8');
  const broken = v3
    .replace(/(=== levelgate-detector rpm\n)[\s\S]*?=== levelgate-exit 0\n/, '$1=== levelgate-exit 139\n')
    .replace(/(=== levelgate-detector libzypp\n)[\s\S]*?=== levelgate-exit 0\n/, '$1Segmentation fault\n=== levelgate-exit 0\n');
  const detection = CATALOG.find((s) => s.id === 'detection')!;
  const answer = (text: string) => (command: string) => (command.startsWith('sh -c') && command.includes('levelgate-detector') ? { stdout: text } : undefined);
  const result = await run(detection, answer(broken), { driver: 'rpm', knownIssues: KNOWN_ISSUES });
  t.is(result.verdict, 'fail', result.reason);
  t.is(result.reason, 'step 1 (detect the machine arch): detector rpm: expected v3 (x86_64_v3), got failed: rpm --showrc failed: exit 139 (killed by SIGSEGV); it printed: no output (and 1 more failing check)');
  const checks = result.steps[0]!.checks;
  t.deepEqual(checks.filter((c) => c.status === 'fail' && !c.explainedBy).map((c) => [c.subject, c.deviation]), [['rpm', 'failed'], ['libzypp', 'failed']]);
  // The same cell with the detectors intact: dnf5's wrong arch alone, explained.
  t.is((await run(detection, answer(v3), { driver: 'rpm', knownIssues: KNOWN_ISSUES })).verdict, 'xfail');
});

test("a cell's facts ask live the CPU's detectors and its own tools' only; a cell whose scenario detects asks every one", async (t) => {
  const fixtures = await mkdtemp(path.join(root, 'run-'));
  const plain = fakeGuests(fakePm(await repos(scenario, fixtures), installs(V3)).script);
  t.is((await runCell(planCells([scenario], { targets: ['v3'], drivers: ['dnf5'] })[0]!, fakeEnvironment(fixtures, plain))).verdict, 'pass');
  t.deepEqual(plain.requests.map((r) => r.detectors), [factDetectors('dnf5', false)]);
  const detection = CATALOG.find((s) => s.id === 'detection')!;
  const v3 = await readFile(path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'detection', 'v3.txt'), 'utf8');
  const detecting = fakeGuests(fakePm(await repos(detection, fixtures), (command) => (command.startsWith('sh -c') ? { stdout: v3 } : undefined)).script);
  await runCell(planCells([detection], { targets: ['v3'], drivers: ['rpm'] })[0]!, fakeEnvironment(fixtures, detecting));
  t.deepEqual(detecting.requests.map((r) => r.detectors), [DETECTORS]);
});

test('load-time: an expectation naming no package of the scenario (a typo), and a step the driver cannot do, are problems naming the file, scenario and subject', (t) => {
  const typo = { ...defineScenario({ ...scenario, drivers: ['dnf5'], steps: [enable('main'), install('lgx').expect({ installed: { lgy: best } })] }), source: 'scenarios/typo.ts' };
  t.deepEqual(validateScenarios([typo]), ["scenario 'rules' (scenarios/typo.ts): steps[1]: expect installed: 'lgy' is no package of the scenario's repositories; they build lgfile, lgx"]);
  // Function expectations are asked for every CPU and driver the scenario runs on.
  const late = defineScenario({ ...scenario, drivers: ['dnf5'], steps: [enable('main'), install('lgx').expect(({ atLeast }) => (atLeast('v4') ? { runsPackage: ['lgxx'] } : {}))] });
  t.deepEqual(validateScenarios([late]), ["scenario 'rules': steps[1]: expect runsPackage: 'lgxx' is no package of the scenario's repositories; they build lgfile, lgx"]);
  const pinned = defineScenario({ ...scenario, drivers: ['rpm', 'dnf5'], steps: [pin('lgx', 'x86_64')] });
  t.deepEqual(validateScenarios([pinned]), ["scenario 'rules': steps[0]: pin: rpm has no way to pin a package; drop rpm from drivers"]);
});

test('runsPackage of a package the step did not install fails the cell (before: "ships no program", a pass)', async (t) => {
  const s = defineScenario({ ...scenario, steps: [enable('main'), install('lgx').expect({ runsPackage: ['lgx'] })] });
  const result = await run(s, (command) => (/ install lgx$/.test(command) ? { stdout: 'Nothing to do.\n' } : undefined));
  t.is(result.verdict, 'fail');
  t.is(result.reason, 'step 2 (install lgx): programs of lgx: expected installed, and every program and library runs, got not installed');
});

test('a library-only package of an attached repository is judged by the loader: a copy above the CPU fails, the right copy passes (before: "ships no program", a pass)', async (t) => {
  const dir = await mkdtemp(path.join(root, 'attached-'));
  const lib = (arch: string): FakePackage => ({ name: 'libfoo1', version: '1.0', arch, files: ['/usr/lib64/libfoo.so.1', '/usr/lib64/glibc-hwcaps/x86-64-v3/libfoo.so.1'] });
  await writeRepo(dir, [lib('x86_64'), lib('x86_64_v3')]);
  const s = defineScenario({ id: 'libaudit', title: 'a library', drivers: ['dnf5'], repos: { compose: attached('compose') }, steps: [enable('compose'), install('libfoo1').expect({ runsPackage: ['libfoo1'] })] });
  const cell = planCells([s], { targets: ['v2'], drivers: ['dnf5'] })[0]!;
  const cellWith = async (copy: string) => {
    const pm = fakePm({ [guestAttachedPath('compose')]: [lib('x86_64'), lib('x86_64_v3')] }, (command, p) => {
      if (/ install libfoo1$/.test(command)) {
        p.installed.push('libfoo1-1.0-1.x86_64');
        return { stdout: 'Complete!\n' };
      }
      if (command.includes('--list --preload libfoo.so.1')) return { stdout: `\tlinux-vdso.so.1 (0x1)\n\tlibfoo.so.1 => ${copy} (0x7f)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7e)\n` };
      return undefined;
    });
    const evidenceDir = await mkdtemp(path.join(root, 'evidence-'));
    return runCell(cell, {
      image: { digest: 'fake', kernel: 'fake', packages: {} },
      guests: fakeGuests(pm.script),
      catalog: new RepoCatalog(undefined, [{ name: 'compose', dir, metadata: await readRepoMetadata(dir) }]),
      placement: placer((l) => ({ target: l, accel: 'tcg', why: 'fake' })),
      knownIssues: [],
      evidenceDir,
      today: TODAY,
    });
  };
  const above = await cellWith('/usr/lib64/glibc-hwcaps/x86-64-v3/libfoo.so.1');
  t.is(above.verdict, 'fail');
  t.is(above.reason, 'step 2 (install libfoo1): runs libfoo.so.1 (libfoo1): expected runs (exit 0), got the loader selects /usr/lib64/glibc-hwcaps/x86-64-v3/libfoo.so.1, built above this v2 CPU');
  const right = await cellWith('/usr/lib64/libfoo.so.1');
  t.is(right.verdict, 'pass', right.reason);
  t.true(right.steps[1]!.commands.some((c) => c.command === '/lib64/ld-linux-x86-64.so.2 --preload /usr/lib64/libfoo.so.1 /bin/true'));
});

test('Ctrl-C while the guest is kept (repro --keep) leaves the verdict standing: no solver replay boots, the cell is not "interrupted"', async (t) => {
  const fixtures = await mkdtemp(path.join(root, 'keep-'));
  const pm = fakePm(await repos(scenario, fixtures), installs(X86_64));
  const guests = fakeGuests(pm.script);
  const stop = new AbortController();
  const result = await runCell(planCells([scenario], { targets: ['v3'], drivers: ['dnf5'] })[0]!, {
    ...fakeEnvironment(fixtures, guests),
    signal: stop.signal,
    // The fakes have no AgentGuest for beforeTeardown: the stop comes as the last step ends, where --keep waits.
    hooks: { onStepEnd: (_, step) => step.index === 2 && stop.abort() },
  });
  t.is(result.verdict, 'fail', result.reason);
  t.regex(result.reason, /installed lgx: expected 1\.0-1\.x86_64_v3, got 1\.0-1\.x86_64/);
  t.is(guests.guests.length, 1);
});

test('below traps, a program built above the guest\'s level that ran is not judged as pass (runs, runnable); at or below its level it is', async (t) => {
  const s = defineScenario({ ...scenario, steps: [enable('main'), install('lgx').expect({ runs: ['lgx'] })] });
  const masked = await run(s, installs(V3), { level: 'v2', fidelity: 'masks-only' });
  t.is(masked.verdict, 'skip');
  const check = masked.steps[1]!.checks.find((c) => c.kind === 'runs')!;
  t.deepEqual([check.status, check.needs], ['skip', 'traps']);
  t.regex(check.skipReason ?? '', /^the build is x86_64_v3 \(v3\) and this guest's fidelity is masks-only: its CPU runs some instructions above v2/);
  // The baseline build is judged on the same guest; the v3 build on a v3 guest too.
  t.is((await run(s, installs(X86_64), { level: 'v2', fidelity: 'masks-only' })).verdict, 'pass');
  t.is((await run(s, installs(V3), { level: 'v3', fidelity: 'masks-only' })).verdict, 'pass');
  // A failure stays a failure: a SIGILL is what a CPU of the level does too.
  const died = await run(s, installs(V3, (c) => (c === '/usr/bin/lgx' ? { signal: 'SIGILL' } : undefined)), { level: 'v2', fidelity: 'masks-only' });
  t.is(died.verdict, 'fail');
});

test('--require-fidelity traps: a cell that cannot trap is an error, before booting (KVM at v2) and when its canaries say so', async (t) => {
  const s = defineScenario({ ...scenario, steps: [enable('main'), install('lgx').expect({ dies: ['lgx'] })] });
  const kvm = (l: string): AccelChoice => ({ target: l, accel: 'kvm', why: 'fake KVM host' });
  const predicted = await run(s, installs(V3), { level: 'v2', accel: kvm, requireFidelity: 'traps' });
  t.is(predicted.verdict, 'error');
  t.is(predicted.reason, 'v2 must run on a guest that traps (--require-fidelity traps) but QEMU KVM only masks CPUID there: BMI1 BMI2 LZCNT MOVBE would run on the host CPU; use --accel auto or tcg');
  t.deepEqual(predicted.proofs, [], 'no guest was booted');
  // KVM at v3 traps (AVX-512 needs state the guest never enables): the cell runs.
  t.is((await run(s, installs(V3), { level: 'v3', accel: kvm, requireFidelity: 'traps' })).verdict, 'fail');
  // The canaries measure masks-only where traps was expected: an error, not a skip.
  const measured = await run(s, installs(V3), { level: 'v2', fidelity: 'masks-only', requireFidelity: 'traps' });
  t.is(measured.verdict, 'error');
  t.regex(measured.reason, /^v2 must run on a guest that traps \(--require-fidelity traps\) but its guest at v2 only masks CPUID \(fidelity masks-only/);
  // Without the flag the same cell is a skip that says why, never a pass.
  t.is((await run(s, installs(V3), { level: 'v2', fidelity: 'masks-only' })).verdict, 'skip');
});

test('--require-levels is not satisfied by a cell that only masks CPUID', async (t) => {
  const kvm = (l: string): AccelChoice => ({ target: l, accel: 'kvm', why: 'fake KVM host' });
  const required = await run(scenario, installs(X86_64), { level: 'v2', accel: kvm, requireLevels: true });
  t.is(required.verdict, 'error');
  t.regex(required.reason, /^v2 must run on a guest that traps \(--require-levels\)/);
  const measured = await run(scenario, installs(X86_64), { level: 'v2', fidelity: 'masks-only', requireLevels: true });
  t.is(measured.verdict, 'error');
});

/** Guests whose first boot dies: the init killed by `signal`, with the console tail as evidence. */
const dyingGuests = (signal: string): CellGuests => ({
  open: async () => ({
    proofs: [],
    consoleLogs: [],
    bootMs: 0,
    start: async () => {
      throw new InitKilledError(`guest fake: its init (PID 1) was killed by ${signal}: the image's userland does not run on this CPU (Kernel panic - not syncing: Attempted to kill init!)`, signal, { details: 'console tail:\ntraps: busybox[1] trap invalid opcode ip:4a2f31 sp:7ffc error:0 in busybox[401000+9c000]' });
    },
    bootAt: async () => {
      throw new Error('not reached');
    },
    current: () => {
      throw new Error('no guest');
    },
    dispose: async () => {},
  }),
});

test('an init death on a near miss is a skip only for the known QEMU BZHI check (v3-bmi1 under TCG); any other is an error with its console evidence', async (t) => {
  const s = defineScenario({ id: 'detects', title: 'detects', drivers: ['rpm'], nearMisses: true, steps: [install('lgx')] });
  const cellAt = (target: string) => planCells([s], { targets: [target] })[0]!;
  const env = async (signal: string, accel: 'tcg' | 'kvm' = 'tcg') => ({
    image: { digest: 'fake', kernel: 'fake', packages: {} },
    guests: dyingGuests(signal),
    catalog: new RepoCatalog(await mkdtemp(path.join(root, 'init-'))),
    placement: placer((l: string): AccelChoice => ({ target: l, accel, why: 'fake' })),
    knownIssues: [],
    evidenceDir: await mkdtemp(path.join(root, 'init-evidence-')),
    today: TODAY,
  });
  const bzhi = await runCell(cellAt('v3-bmi1'), await env('SIGILL'));
  t.is(bzhi.verdict, 'skip');
  t.regex(bzhi.reason, /^the guest image's init dies of SIGILL on v3-bmi1: QEMU's TCG traps BZHI \(BMI2\) when BMI1 is absent/);
  for (const [target, signal, accel] of [['v3-fma', 'SIGILL', 'tcg'], ['v3-bmi1', 'SIGSEGV', 'tcg'], ['v3-bmi1', 'SIGILL', 'kvm']] as const) {
    const died = await runCell(cellAt(target), await env(signal, accel));
    t.is(died.verdict, 'error', `${target} ${signal} ${accel}`);
    t.regex(died.reason, new RegExp(`its init \\(PID 1\\) was killed by ${signal}`));
    const evidence = await readFile(died.attachments.find((a) => a.endsWith('error.txt'))!, 'utf8');
    t.regex(evidence, /trap invalid opcode ip:4a2f31/);
  }
});

test('a guest whose teardown fails: the verdict stands, and the teardown error is kept in the evidence, not swallowed', async (t) => {
  const fixtures = await mkdtemp(path.join(root, 'run-'));
  const pm = fakePm(await repos(scenario, fixtures), installs(V3));
  const guests = fakeGuests(pm.script);
  const failingTeardown: CellGuests = {
    open: async (request) => ({
      ...(await guests.open(request)),
      dispose: async () => {
        throw new GuestError('guest v3: QEMU did not exit after quit', { details: 'console tail' });
      },
    }),
  };
  const cell = planCells([scenario], { targets: ['v3'], drivers: ['dnf5'] })[0]!;
  const result = await runCell(cell, { ...fakeEnvironment(fixtures, guests), guests: failingTeardown });
  t.is(result.verdict, 'pass', result.reason);
  const kept = result.attachments.find((a) => a.endsWith('teardown-error.txt'));
  t.truthy(kept);
  t.regex(await readFile(kept!, 'utf8'), /^tearing the guest down failed: guest v3: QEMU did not exit after quit\n\n.*console tail/s);
});
