// The verdict rules, proven on the real cell runner with fake guests (no QEMU): each
// test breaks one thing and checks the verdict the rule demands. Remove a rule and its
// test fails.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { AccelChoice } from '../../harness/accel/choose.js';
import { atLeast, best, defineKnownIssue, defineScenario, deviation, enable, install, installFile, listUpdates, overrideArch, setEnv, variants } from '../../harness/index.js';
import { validateScenarios } from '../../harness/scenario/validate.js';
import type { Fidelity } from '../../harness/levels/canaries.js';
import type { LevelName } from '../../harness/levels/table.js';
import type { KnownIssue } from '../../harness/plan/known-issues.js';
import { planCells } from '../../harness/plan/plan.js';
import { RepoCatalog, guestFixturePath } from '../../harness/repos/catalog.js';
import { countVerdicts, exitCodeOf } from '../../harness/results/summary.js';
import type { CellResult } from '../../harness/results/types.js';
import { runCell } from '../../harness/run/cell.js';
import type { Scenario } from '../../harness/scenario/types.js';
import { fakeGuests } from '../fixtures/fake-guests.js';
import { fakePm, nevra, type FakePm } from '../fixtures/fake-pm.js';
import type { FakeReply } from '../fixtures/fake-guests.js';
import { writeRepo, type FakePackage } from '../fixtures/repodata.js';

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
  readonly today?: string;
}

async function run(s: Scenario, on: (command: string, pm: FakePm) => FakeReply | undefined, options: RunOptions = {}): Promise<CellResult> {
  // Each run its own fixture root: tests run at once.
  const fixtures = await mkdtemp(path.join(root, 'run-'));
  const pm = fakePm(await repos(s, fixtures), on);
  const level = options.level ?? 'v3';
  const cell = planCells([s], { targets: [level], drivers: [options.driver ?? 'dnf5'] })[0]!;
  return runCell(cell, {
    image: { digest: 'fake', kernel: 'fake', packages: {} },
    guests: fakeGuests(pm.script, options.fidelity ? { fidelity: options.fidelity } : {}),
    catalog: new RepoCatalog(fixtures),
    accel: options.accel ?? ((l) => ({ target: l, accel: 'tcg', why: 'fake' })),
    knownIssues: options.knownIssues ?? [],
    evidenceDir: path.join(fixtures, 'evidence'),
    today: options.today ?? TODAY,
    ...(options.requireLevels ? { requireLevels: true } : {}),
  });
}

const X86_64: FakePackage = { name: 'lgx', version: '1.0', arch: 'x86_64' };
const V3: FakePackage = { name: 'lgx', version: '1.0', arch: 'x86_64_v3' };

test('the best variant installed and running: pass', async (t) => {
  const result = await run(scenario, installs(V3));
  t.is(result.verdict, 'pass', result.reason);
  t.deepEqual(result.steps[1]!.installedAfter, ['lgx-1.0-1.x86_64_v3']);
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

test('a package operation that timed out is an error in a covered cell, naming the command', async (t) => {
  const result = await run(scenario, installs(X86_64, (c) => (/ install lgx$/.test(c) ? { timedOut: true } : undefined)), { knownIssues: [wrongArchIssue] });
  t.is(result.verdict, 'error');
  // The command as it ran, levelgate's own repository and cache directories included.
  t.regex(result.reason, /^step 2 \(install lgx\): `dnf5 -y --releasever=sid --setopt=reposdir=\/etc\/levelgate\/dnf5\/repos\.d (?:--setopt=\S+ )+install lgx` did not finish within 300 s and was killed$/);
});

test('a failed rpm -qa is an error, not "nothing installed"', async (t) => {
  const result = await run(scenario, installs(X86_64, (c) => (c.startsWith('rpm -qa') ? { exitCode: 1, stderr: 'error: cannot open Packages database in /var/lib/rpm\n' } : undefined)), {
    knownIssues: [wrongArchIssue],
  });
  t.is(result.verdict, 'error');
  t.regex(result.reason, /^step 1 \(enable repositories: main\): `rpm -qa --qf .*` failed: exit status 1: error: cannot open Packages database in \/var\/lib\/rpm$/);
});

test('a repository the tool did not load is an error naming it and what the tool said', async (t) => {
  const result = await run(scenario, installs(V3, (c) => (c.includes('repoquery') ? { stdout: '\n', stderr: ">>> Curl error (37): Could not read a file:// file for file:///mnt/fixtures/rules/main/repodata/repomd.xml\n" } : undefined)));
  t.is(result.verdict, 'error');
  t.regex(result.reason, /^step 1 \(enable repositories: main\): repository main \(rules-main\) did not load: dnf5 sees none of its 2 packages; it said: >>> Curl error \(37\)/);
});

test('a listing of updates that exits outside the contract (not 0 or 100) is an error', async (t) => {
  const s = defineScenario({ ...scenario, id: 'rules', steps: [enable('main'), listUpdates().expect({ updatesListed: [] })] });
  const result = await run(s, installs(V3, (c) => (c.endsWith('check-upgrade') ? { exitCode: 1, stderr: 'Error: something broke\n' } : undefined)));
  t.is(result.verdict, 'error');
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

test('a program that hangs is an error, one that dies of SIGILL a failing check', async (t) => {
  const hung = await run(scenario, installs(V3, (c) => (c === '/usr/bin/lgx' ? { timedOut: true } : undefined)));
  t.is(hung.verdict, 'error');
  t.regex(hung.reason, /program \/usr\/bin\/lgx did not finish within 60 s \(hung\)$/);
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
  const result = await runCell(planCells([s], { targets: ['v2'] })[0]!, {
    image: { digest: 'fake', kernel: 'fake', packages: {} },
    guests,
    catalog: new RepoCatalog(fixtures),
    accel: (l) => ({ target: l, accel: 'tcg', why: 'fake' }),
    knownIssues: [],
    evidenceDir: path.join(fixtures, 'evidence'),
    today: TODAY,
  });
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
