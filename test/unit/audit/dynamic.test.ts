// audit --run and gate --audit without a guest: which packages run where and with what
// (the plan), what a run adds to the static findings (reconciliation), how a finding
// reads, one package in a fake guest, and the check gate --audit adds to a step.
import test from 'ava';
import { runInGuest, type RunGuest, type RunResult } from '../../../harness/audit-run/in-guest.js';
import { commandsByPackage, parseCommandFlag, planRuns } from '../../../harness/audit/dynamic/plan.js';
import { withRun } from '../../../harness/audit/dynamic/reconcile.js';
import type { PackageRun, RunTrap } from '../../../harness/audit/dynamic/types.js';
import { auditExitCode, fails, judgePackage } from '../../../harness/audit/findings.js';
import { findingText } from '../../../harness/audit/report-text.js';
import type { FileAudit, PackageAudit } from '../../../harness/audit/types.js';
import type { LevelName } from '../../../harness/levels/table.js';
import { exactTarget } from '../../../harness/levels/targets.js';
import { auditCheck, auditInstalls } from '../../../harness/run/install-audit.js';
import type { StepRecord } from '../../../harness/results/types.js';
import { UsageError } from '../../../harness/util/errors.js';

const AVX2 = { feature: 'AVX2', level: 'v3' as const, count: 3, examples: [{ address: '0x1136', offset: '0x1136', text: 'vpaddd ymm0,ymm0,ymm1' }] };
const SSE2 = { feature: 'SSE2', level: 'v1' as const, count: 9, examples: [{ address: '0x1040', text: 'movd xmm0,edi' }] };
const summary = (level: LevelName, features: (typeof AVX2 | typeof SSE2)[]) => ({ level, levelSetBy: level === 'v1' ? [] : features.filter((f) => f.level === level).map((f) => f.feature), beyond: [], features, discounted: [], instructions: 100 });

/** An audited ELF file whose code without a CPU check needs `level`; `checks`: where it checks the CPU. */
function elf(path: string, level: LevelName, checks: string[] = []): FileAudit {
  const features = level === 'v3' ? [SSE2, AVX2] : [SSE2];
  return { path, status: 'audited', bits: 64, codeBytes: 4096, cpuChecks: checks, all: summary(level, features), unconditional: { ...summary(level, features), functions: [] }, milliseconds: 1 };
}

/** A file whose code reached from its entry points needs v1, and whose code the analysis cannot place (1 KB, pointed at from data) needs `level`. */
function unplaced(path: string, level: LevelName, checks: string[]): FileAudit {
  const features = level === 'v3' ? [SSE2, AVX2] : [SSE2];
  const unresolved = { ...summary(level, features), bytes: 1024, functions: 2, fromData: 2, listed: [] };
  return { ...elf(path, 'v1', checks), all: summary(level, features), unresolved };
}

function rpm(id: string, arch: string, files: FileAudit[], programs = files.map((f) => f.path)): PackageAudit {
  return judgePackage({ id, manager: 'rpm', input: `/r/${id}.rpm`, file: `/r/${id}.rpm`, inputKind: 'rpm', arch, files, otherFiles: 0, programs });
}

function trap(file: string, pkg: string, needs: LevelName | null, guestLevel: LevelName): RunTrap {
  const line = `${pkg}: ${file}+0x1136: vpaddd ymm0,ymm0,ymm1 needs AVX2 (x86-64-${needs}); this guest is x86-64-${guestLevel}`;
  return { kind: 'trap', file, offset: 0x1136, ip: 0x401136, package: pkg, owners: [pkg], located: 'mapping', bytes: 'c5 f5 fe c1', instruction: 'vpaddd ymm0,ymm0,ymm1', features: ['AVX2'], needs, guestLevel, fidelity: 'traps', trapLine: 'traps: …', line, command: `${file} --version` };
}

function ran(level: LevelName, traps: RunTrap[], commands = ['/usr/bin/lgbad --version']): PackageRun {
  return {
    target: level,
    level,
    accel: 'tcg',
    programs: commands.map((command) => ({ argv: command.split(' '), command, exitCode: traps.length ? null : 0, signal: traps.length ? 'SIGILL' : null, timedOut: false, spawnFailed: false, durationMs: 5, firstLine: '', sigills: traps.map((t) => t.line) })),
    traps,
    durationMs: 400,
  };
}

test('plan: each package at the lowest level its arch claims (auto) or at the level asked; what is not run says why', (t) => {
  const packages = [
    rpm('lgbad-1.0-1.x86_64', 'x86_64', [elf('/usr/bin/lgbad', 'v3')]),
    rpm('lgwide-1.0-1.x86_64_v3', 'x86_64_v3', [elf('/usr/bin/lgwide', 'v3')]),
    rpm('lgdoc-1.0-1.noarch', 'noarch', [], []),
    rpm('lgarm-1.0-1.aarch64', 'aarch64', []),
    judgePackage({ id: 'libc6', manager: 'dpkg', input: 'root.img', inputKind: 'image', arch: 'x86_64', files: [], otherFiles: 0 }),
    judgePackage({ id: 'broken.rpm', manager: 'rpm', input: 'broken.rpm', file: 'broken.rpm', inputKind: 'rpm', arch: undefined, problem: 'not an RPM package', files: [], otherFiles: 0 }),
  ];
  const auto = planRuns(packages, { target: 'auto', commands: commandsByPackage(['lgwide=lgwide --selftest']) });
  t.deepEqual(
    auto.groups.map((g) => [g.target.name, g.packages.map((p) => [p.id, p.commands])]),
    [
      ['v1', [['lgbad-1.0-1.x86_64', [['/usr/bin/lgbad', '--version']]], ['lgdoc-1.0-1.noarch', []]]],
      ['v3', [['lgwide-1.0-1.x86_64_v3', [['lgwide', '--selftest']]]]],
    ],
  );
  t.deepEqual(auto.skipped, [
    { id: 'lgarm-1.0-1.aarch64', why: 'not run: aarch64 is not an x86-64 arch' },
    { id: 'libc6', why: 'not run: only RPM packages are installed in a guest' },
    { id: 'broken.rpm', why: 'not run: not an RPM package' },
  ]);
  const v2 = planRuns(packages, { target: exactTarget('v2'), commands: new Map() });
  t.deepEqual(v2.groups.map((g) => [g.target.name, g.packages.length]), [['v2', 3]]);
});

test('--command NAME=ARGV: words or a JSON array; a name given twice runs both; mistakes say what to write', (t) => {
  t.deepEqual(parseCommandFlag('openssl=openssl speed -seconds 1'), { name: 'openssl', argv: ['openssl', 'speed', '-seconds', '1'] });
  t.deepEqual(parseCommandFlag('lgbad=["lgbad", "a b"]'), { name: 'lgbad', argv: ['lgbad', 'a b'] });
  t.deepEqual([...commandsByPackage(['a=x 1', 'a=y 2'])], [['a', [['x', '1'], ['y', '2']]]]);
  t.is(t.throws(() => parseCommandFlag('lgbad'), { instanceOf: UsageError })!.message, "--command: 'lgbad' is not NAME=ARGV (e.g. --command 'openssl=openssl speed -seconds 1 sha256')");
  t.is(t.throws(() => parseCommandFlag('lgbad=[1]'), { instanceOf: UsageError })!.message, '--command lgbad: give the command to run, as words or a JSON array of strings (e.g. --command \'lgbad=["lgbad", "--help"]\')');
});

test('reconcile: a trap in a file the static audit flagged confirms it (confidence confirmed)', (t) => {
  const pkg = rpm('lgbad-1.0-1.x86_64', 'x86_64', [elf('/usr/bin/lgbad', 'v3')]);
  t.like(pkg.findings[0], { path: '/usr/bin/lgbad', certainty: 'sure', confidence: 'static' });
  const after = withRun(pkg, ran('v2', [trap('/usr/bin/lgbad', 'lgbad-1.0-1.x86_64', 'v3', 'v2')]));
  t.is(after.verdict, 'finding');
  t.like(after.findings[0], { confidence: 'confirmed', run: { outcome: 'trapped', level: 'v2' } });
  t.is(
    findingText(after.findings[0]!),
    '/usr/bin/lgbad needs AVX2 (x86-64-v3) without a CPU check; the package claims x86-64-v1: vpaddd ymm0,ymm0,ymm1 at 0x1136 — confidence confirmed by a trap at x86-64-v2: lgbad-1.0-1.x86_64: /usr/bin/lgbad+0x1136: vpaddd ymm0,ymm0,ymm1 needs AVX2 (x86-64-v3); this guest is x86-64-v2',
  );
});

test('reconcile: a suspected finding confirmed by a trap fails the package; without one it stays suspected', (t) => {
  const pkg = rpm('lgdisp-1.0-1.x86_64', 'x86_64', [unplaced('/usr/bin/lgdisp', 'v3', ['main runs cpuid'])]);
  t.is(pkg.verdict, 'suspect');
  t.like(pkg.findings[0], { certainty: 'suspect', basis: 'unresolved', needs: 'v3' });
  t.false(fails(pkg.findings[0]!));
  t.is(withRun(pkg, ran('v2', [trap('/usr/bin/lgdisp', 'lgdisp-1.0-1.x86_64', 'v3', 'v2')])).verdict, 'finding');
  const clean = withRun(pkg, ran('v2', [], ['/usr/bin/lgdisp --version']));
  t.is(clean.verdict, 'suspect');
  t.like(clean.findings[0], { confidence: 'static', run: { outcome: 'not-reproduced', level: 'v2', detail: 'its command ran to the end (/usr/bin/lgdisp --version) with no SIGILL in /usr/bin/lgdisp' } });
});

test('reconcile: a trap the static audit did not predict is a finding of its own (confidence unpredicted)', (t) => {
  const pkg = rpm('lgjit-1.0-1.x86_64', 'x86_64', [elf('/usr/bin/lgjit', 'v1')]);
  t.is(pkg.verdict, 'pass');
  const after = withRun(pkg, ran('v1', [trap('/usr/bin/lgjit', 'lgjit-1.0-1.x86_64', 'v3', 'v1')]));
  t.is(after.verdict, 'finding');
  t.like(after.findings[0], { path: '/usr/bin/lgjit', needs: 'v3', allowed: 'v1', confidence: 'unpredicted', certainty: 'sure', features: ['AVX2'] });
  t.regex(findingText(after.findings[0]!), /^\/usr\/bin\/lgjit died of SIGILL at x86-64-v1 \(needs x86-64-v3; the package claims x86-64-v1\), which the static audit did not predict — confidence unpredicted: lgjit-1\.0-1\.x86_64: /);
});

test('reconcile: below its claim (--run v2 of an x86_64_v3 package) only an instruction above the claim counts; traps in other packages do not', (t) => {
  const pkg = rpm('lgv3-1.0-1.x86_64_v3', 'x86_64_v3', [elf('/usr/bin/lgv3', 'v3')]);
  t.is(withRun(pkg, ran('v2', [trap('/usr/bin/lgv3', 'lgv3-1.0-1.x86_64_v3', 'v3', 'v2')])).verdict, 'pass');
  t.is(withRun(pkg, ran('v2', [trap('/usr/bin/lgv3', 'lgv3-1.0-1.x86_64_v3', 'v4', 'v2')])).verdict, 'finding');
  t.is(withRun(pkg, ran('v3', [trap('/usr/bin/other', 'other-1-1.x86_64', 'v4', 'v3')])).verdict, 'pass');
});

/** A guest that answers each command from a table (by its first word), recording what ran. */
function fakeGuest(level: LevelName, answers: Record<string, Partial<RunResult>>): RunGuest & { calls: string[][] } {
  const calls: string[][] = [];
  return {
    level,
    fidelity: 'traps',
    calls,
    exec: async (argv) => {
      calls.push([...argv]);
      const a = answers[argv[0]!] ?? {};
      return { command: argv.join(' '), exitCode: 0, signal: null, timedOut: false, spawnFailed: false, stdout: '', stderr: '', durationMs: 1, consoleEvents: [], ...a };
    },
  };
}

test('in the guest: rpm -i from the disk (no deps, no scriptlets, any arch), then each command; rpm refusing ends it with its words', async (t) => {
  const guest = fakeGuest('v2', { '/usr/bin/lgok': { stdout: 'lgok 1.0\n' } });
  const result = await runInGuest(guest, { guestFile: '/mnt/audit/ab/lgok.rpm', commands: [['/usr/bin/lgok', '--version']], installMs: 1000, commandMs: 1000 });
  t.deepEqual(guest.calls, [
    ['rpm', '-i', '--nodeps', '--noscripts', '--notriggers', '--ignorearch', '/mnt/audit/ab/lgok.rpm'],
    ['/usr/bin/lgok', '--version'],
  ]);
  t.like(result.programs[0], { command: '/usr/bin/lgok --version', exitCode: 0, firstLine: 'lgok 1.0', sigills: [] });
  const refused = await runInGuest(fakeGuest('v2', { rpm: { exitCode: 1, stderr: 'error: package lgok is already installed\n' } }), { guestFile: '/mnt/audit/x.rpm', commands: [['lgok']], installMs: 1000, commandMs: 1000 });
  t.is(refused.problem, 'rpm could not install it (exit 1): error: package lgok is already installed');
  t.deepEqual(refused.programs, []);
});

const step = (level: LevelName, before: string[], after: string[]): StepRecord => ({ index: 1, title: 'install lgbad', action: 'install', level, commands: [], installedBefore: before, installedAfter: after, checks: [] });

test('gate --audit: a package a step installed needing more than the guest is a failing check with the first offending instructions', async (t) => {
  const bad = rpm('lgbad-1.0-1.x86_64', 'x86_64', [elf('/usr/bin/lgbad', 'v3')]);
  const check = auditCheck('lgbad-1.0-1.x86_64', bad, 'v2', []);
  t.deepEqual(check, {
    kind: 'audit',
    subject: 'lgbad',
    check: 'audit lgbad-1.0-1.x86_64',
    expected: 'code that runs on x86-64-v2 (the guest it was installed on)',
    actual: '/usr/bin/lgbad needs AVX2 (x86-64-v3) without a CPU check, sure (reached): 0x1136 (file +0x1136): vpaddd ymm0,ymm0,ymm1 (AVX2)',
    status: 'fail',
    deviation: 'above-level',
  });
  // Judged against the guest, not the arch: the same package on a v3 guest passes.
  t.like(auditCheck('lgbad-1.0-1.x86_64', bad, 'v3', []), { status: 'pass', actual: '1 ELF file, without a CPU check x86-64-v3' });
  const steps = await auditInstalls([step('v2', ['lgold-1-1.x86_64'], ['lgbad-1.0-1.x86_64', 'lgold-1-1.x86_64'])], new Map([['lgbad-1.0-1.x86_64', '/r/lgbad.rpm']]), { audit: async () => bad }, []);
  t.deepEqual(steps[0]!.checks.map((c) => [c.check, c.status]), [['audit lgbad-1.0-1.x86_64', 'fail']]);
  const unknown = await auditInstalls([step('v2', [], ['lgelse-1-1.x86_64'])], new Map(), { audit: async () => bad }, []);
  t.like(unknown[0]!.checks[0], { status: 'skip', skipReason: 'its file is in none of the scenario’s repositories on the host' });
});

test('gate --audit judges strictly: a suspected finding fails the check and says what it rests on; a CPU check elsewhere does not make reached v3 code a suspect', (t) => {
  // Behaviour changed on purpose (issues 17 item 9, 20): a suspect used to pass unless the cell met a SIGILL.
  const disp = rpm('lgdisp-1.0-1.x86_64', 'x86_64', [unplaced('/usr/bin/lgdisp', 'v3', ['main runs cpuid'])]);
  const suspect = auditCheck('lgdisp-1.0-1.x86_64', disp, 'v2', []);
  t.is(suspect.status, 'fail');
  t.regex(suspect.actual, /^\/usr\/bin\/lgdisp needs AVX2 \(x86-64-v3\) without a CPU check, suspected \(unresolved\): 2 functions \(1 KB, 25% of the code, 2 of them pointed at from data\) that no entry point reaches/);
  const trapped = auditCheck('lgdisp-1.0-1.x86_64', disp, 'v2', [trap('/usr/bin/lgdisp', 'lgdisp-1.0-1.x86_64', 'v3', 'v2')]);
  t.is(trapped.status, 'fail');
  t.regex(trapped.actual, / — confirmed: lgdisp-1\.0-1\.x86_64: \/usr\/bin\/lgdisp\+0x1136: vpaddd ymm0,ymm0,ymm1 needs AVX2 \(x86-64-v3\); this guest is x86-64-v2$/);
  // Reached v3 code in a file that checks the CPU somewhere: sure, not suspected.
  const wholesale = rpm('lgv3-1.0-1.x86_64', 'x86_64', [elf('/usr/bin/lgv3', 'v3', ['get_available_features runs cpuid'])]);
  t.is(wholesale.verdict, 'finding');
  t.like(wholesale.findings[0], { certainty: 'sure', basis: 'reached' });
  t.like(auditCheck('lgv3-1.0-1.x86_64', wholesale, 'v2', []), { status: 'fail' });
  // Within the guest's level: passes.
  t.like(auditCheck('lgdisp-1.0-1.x86_64', disp, 'v3', []), { status: 'pass' });
  // audit exits 0 on a suspect, 1 with --strict; a sure finding fails either way.
  t.is(auditExitCode([disp.verdict]), 0);
  t.is(auditExitCode([disp.verdict], true), 1);
  t.is(auditExitCode([wholesale.verdict]), 1);
});
