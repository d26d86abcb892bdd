import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { DETECTORS, detectionCommand, factDetectors, levelOfArch, levelOfFeatures, parseDetection, parseModalias } from '../../harness/drivers/detectors.js';
import { parseCpuidDiagnostics } from '../../harness/levels/detect.js';
import { evaluate } from '../../harness/scenario/evaluate.js';

// Outputs of detectionCommand() in real guests (QEMU TCG, Debian sid): v3, and two near misses.
const sample = (name: string) => readFile(path.join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'detection', `${name}.txt`), 'utf8');
const NO_APT_PACMAN = { 'apt-variants': null, 'apt-test-table': null, 'pacman-arch': null };
const levels = (readings: ReturnType<typeof parseDetection>) => Object.fromEntries(readings.map((r) => [r.detector, r.level]));

test('every detector is asked in one fixed command; nothing in it comes from input', (t) => {
  const { argv } = detectionCommand();
  t.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  for (const tool of ['--list-diagnostics', '/proc/cpuinfo', '/sys/devices/system/cpu/modalias', '--help', 'rpm --showrc', 'system-architecture', '--dump-variables']) t.true(argv[2]!.includes(tool), tool);
});

test("a cell's facts ask the CPU's detectors and its own tools' (rpm's under every rpm-based driver); a scenario that detects asks every one", (t) => {
  t.deepEqual(factDetectors('dnf5', false), ['cpuid', 'cpuinfo', 'modalias', 'glibc', 'rpm', 'dnf5-arch', 'dnf5-basearch']);
  t.deepEqual(factDetectors('zypper', false), ['cpuid', 'cpuinfo', 'modalias', 'glibc', 'rpm', 'libzypp']);
  t.deepEqual(factDetectors('rpm', false), ['cpuid', 'cpuinfo', 'modalias', 'glibc', 'rpm']);
  t.deepEqual(factDetectors('apt', false), ['cpuid', 'cpuinfo', 'modalias', 'glibc', 'apt-variants']);
  t.deepEqual(factDetectors('pacman', false), ['cpuid', 'cpuinfo', 'modalias', 'glibc', 'pacman-arch']);
  for (const driver of ['dnf5', 'zypper', 'rpm', 'apt', 'pacman'] as const) t.deepEqual(factDetectors(driver, true), DETECTORS, driver);
});

test('a subset of the detectors: the command starts only their tools, and every one asked has its answer (none "not asked")', async (t) => {
  const only = factDetectors('zypper', false);
  const script = detectionCommand('sid', only).argv[2]!;
  for (const tool of ['--list-diagnostics', '/proc/cpuinfo', 'modalias', '--help', 'rpm --showrc', 'system-architecture']) t.true(script.includes(tool), tool);
  for (const tool of ['--dump-variables', 'apt-get', 'pacman-conf']) t.false(script.includes(tool), tool);
  // The answers of a v3 guest to the whole command, read for the subset: exactly the subset, each with its level.
  const readings = parseDetection(await sample('v3'), only);
  t.deepEqual(levels(readings), { cpuid: 'v3', cpuinfo: 'v3', modalias: 'v3', glibc: 'v3', rpm: 'v3', libzypp: 'v3' });
  // A section missing from the output is still a failure for a detector that was asked.
  const cut = parseDetection((await sample('v3')).split('=== levelgate-detector libzypp')[0]!, only);
  t.regex(cut.find((r) => r.detector === 'libzypp')?.failure ?? '', /was not asked: the detection script printed no libzypp section/);
});

test('a v3 guest: the CPU, the kernel, glibc, rpm, libzypp and apt say v3; dnf5 and pacman say x86_64', async (t) => {
  const readings = parseDetection(await sample('v3'));
  // apt's "auto" says v3 (its varianttable); pacman's Architecture is uname's x86_64 (it has no level detection).
  t.deepEqual(levels(readings), { cpuid: 'v3', cpuinfo: 'v3', modalias: 'v3', glibc: 'v3', rpm: 'v3', libzypp: 'v3', 'dnf5-arch': 'v1', 'dnf5-basearch': 'v1', 'apt-variants': 'v3', 'apt-test-table': 'v3', 'pacman-arch': 'v1' });
  t.is(readings.find((r) => r.detector === 'apt-variants')?.note, 'amd64v4 lacks avx512f avx512bw avx512cd avx512dq avx512vl');
  t.is(readings.find((r) => r.detector === 'rpm')?.answer, 'x86_64_v3');
  t.is(readings.find((r) => r.detector === 'glibc')?.answer, 'x86-64-v3 x86-64-v2');
});

test('near misses: the CPU without XSAVE (so no OS-enabled AVX state) and without LZCNT meet v2 for every detector that reads the CPU', async (t) => {
  for (const name of ['v3-osxsave', 'v3-lzcnt']) {
    const readings = parseDetection(await sample(name));
    t.deepEqual(levels(readings), { cpuid: 'v2', cpuinfo: 'v2', modalias: 'v2', glibc: 'v2', rpm: 'v2', libzypp: 'v2', 'dnf5-arch': 'v1', 'dnf5-basearch': 'v1', ...NO_APT_PACMAN }, name);
  }
  const lzcnt = parseDetection(await sample('v3-lzcnt'));
  t.is(lzcnt.find((r) => r.detector === 'cpuid')?.note, 'lacks LZCNT');
  t.is(lzcnt.find((r) => r.detector === 'modalias')?.note, 'lacks LZCNT');
});

test('parsers: CPUID words by leaf and register, modalias feature numbers, arch names', (t) => {
  const has = parseCpuidDiagnostics('x86.cpu_features.features[0x0].cpuid[0x2]=0x1000\nx86.cpu_features.features[0x1].cpuid[0x1]=0x20\n')!;
  t.true(has({ leaf: 1, reg: 'ecx', bit: 12 }));
  t.true(has({ leaf: 7, reg: 'ebx', bit: 5 }));
  t.false(has({ leaf: 0x80000001, reg: 'ecx', bit: 5 }));
  t.is(parseCpuidDiagnostics('nothing'), undefined);
  t.deepEqual([...parseModalias('cpu:type:x86,ven0002fam000Fmod006B:feature:,0000,0125,00C5\n')!], [0, 0x125, 0xc5]);
  t.deepEqual([levelOfArch('x86_64_v2'), levelOfArch('amd64'), levelOfArch('i686')], ['v2', 'v1', null]);
  // Features without evidence are not judged; the first level with a missing one stops the climb.
  t.deepEqual(levelOfFeatures((f) => (f.psabi === 'FMA' ? false : true)), { level: 'v2', missing: ['FMA'] });
});

test('a missing tool is no answer, and its check is skipped with the reason, never passed', (t) => {
  const readings = parseDetection('=== levelgate-detector rpm\n=== levelgate-exit absent\n=== levelgate-detector libzypp\nx86_64_v2\n=== levelgate-exit 0\n');
  const rpm = readings.find((r) => r.detector === 'rpm')!;
  t.deepEqual([rpm.level, rpm.note, rpm.failure], [null, 'rpm is not installed', undefined]);
  const checks = evaluate({ detectors: { rpm: 'level', libzypp: 'level' } }, { level: 'v3', fidelity: 'traps', installed: [], programs: {}, available: [], detectors: readings });
  t.deepEqual(
    checks.map((c) => [c.subject, c.status, c.actual]),
    [
      ['rpm', 'skip', 'absent'],
      ['libzypp', 'fail', 'v2 (x86_64_v2)'],
    ],
  );
  t.is(checks[1]!.deviation, 'other');
});

/** The v3 sample with one detector's section replaced. */
const withSection = (text: string, name: string, body: string) => text.replace(new RegExp(`=== levelgate-detector ${name}\\n[\\s\\S]*?=== levelgate-exit \\S+\\n`), `=== levelgate-detector ${name}\n${body}`);

test('a detector that ran and failed is a failing check naming its exit status and output, never "absent"', async (t) => {
  // rpm dies of SIGSEGV printing nothing; zypper prints an error; dnf5 answers an arch the table does not know.
  let text = withSection(await sample('v3'), 'rpm', '=== levelgate-exit 139\n');
  text = withSection(text, 'libzypp', 'Segmentation fault\n=== levelgate-exit 0\n');
  text = withSection(text, 'dnf5', 'arch = x86_64_v5\nbasearch = x86_64\n=== levelgate-exit 0\n');
  const readings = parseDetection(text);
  const by = (d: string) => readings.find((r) => r.detector === d)!;
  t.deepEqual([by('rpm').level, by('rpm').failure], [null, 'rpm --showrc failed: exit 139 (killed by SIGSEGV); it printed: no output']);
  t.is(by('libzypp').failure, 'zypper system-architecture (exit 0) printed no architecture; it printed: Segmentation fault');
  t.is(by('dnf5-arch').failure, 'answered x86_64_v5, an arch the level table does not know (known: x86_64, x86_64_v2, x86_64_v3, x86_64_v4, amd64)');
  t.is(by('dnf5-basearch').failure, undefined);
  const checks = evaluate({ detectors: 'level' }, { level: 'v3', fidelity: 'traps', installed: [], programs: {}, available: [], detectors: readings });
  const check = (d: string) => checks.find((c) => c.subject === d)!;
  for (const d of ['rpm', 'libzypp', 'dnf5-arch']) t.like(check(d), { status: 'fail', deviation: 'failed' }, d);
  t.is(check('rpm').actual, 'failed: rpm --showrc failed: exit 139 (killed by SIGSEGV); it printed: no output');
  // A section the script never printed is a failure too (the script was cut short), not an absent tool.
  const cut = parseDetection(text.slice(0, text.indexOf('=== levelgate-detector glibc')));
  t.regex(cut.find((r) => r.detector === 'glibc')!.failure!, /^ld\.so --help was not asked/);
  // The driver's own detector (detectedArch) fails the same way.
  const own = evaluate({ detectedArch: 'level' }, { level: 'v3', fidelity: 'traps', installed: [], programs: {}, available: [], detectors: readings, detectedBy: 'rpm', detectedArch: by('rpm').answer });
  t.like(own[0], { status: 'fail', deviation: 'failed', subject: 'rpm' });
});

test('the detection script reports each tool\'s exit status: a segfaulting rpm, a zypper that errs, a dnf5 that is not there (run in a real shell)', async (t) => {
  const bin = await mkdtemp(path.join(os.tmpdir(), 'levelgate-detectors-'));
  try {
    for (const tool of ['grep', 'tail', 'cat']) await symlink((await execa('sh', ['-c', `command -v ${tool}`])).stdout, path.join(bin, tool));
    const fake = async (name: string, body: string) => {
      await writeFile(path.join(bin, name), `#!/bin/sh\n${body}\n`);
      await chmod(path.join(bin, name), 0o755);
    };
    await fake('rpm', 'kill -SEGV $$');
    await fake('zypper', 'echo "System management is locked by the application with pid 1 (zypper)." >&2; exit 7');
    const { argv } = detectionCommand();
    const result = await execa('/bin/sh', argv.slice(1), { env: { PATH: bin }, extendEnv: false });
    const readings = parseDetection(result.stdout);
    const by = (d: string) => readings.find((r) => r.detector === d)!;
    t.is(by('rpm').failure, 'rpm --showrc failed: exit 139 (killed by SIGSEGV); it printed: no output');
    t.is(by('libzypp').failure, 'zypper system-architecture failed: exit 7; it printed: System management is locked by the application with pid 1 (zypper).');
    t.like(by('dnf5-arch'), { answer: 'absent', level: null, note: 'dnf5 is not installed' });
    t.is(by('dnf5-arch').failure, undefined);
    // The host's own loader answers for glibc (whatever level this host is).
    t.is(by('glibc').failure, undefined);
    t.not(by('glibc').level, null);
  } finally {
    await rm(bin, { recursive: true, force: true });
  }
});

test("apt in an image without a varianttable is no answer with the reason (a skip), not a wrong level: Debian's dpkg ships none", (t) => {
  const { argv } = detectionCommand();
  t.regex(argv[2]!, /n \/usr\/share\/dpkg\/varianttable "this image has no/);
  const readings = parseDetection(
    "=== levelgate-detector apt-variants\nthis image has no /usr/share/dpkg/varianttable (Debian's dpkg ships none): apt's variants cannot see the CPU here\n=== levelgate-exit absent\n=== levelgate-detector pacman-arch\n=== levelgate-exit absent\n",
  );
  t.like(readings.find((r) => r.detector === 'apt-variants'), { answer: 'absent', level: null, note: "this image has no /usr/share/dpkg/varianttable (Debian's dpkg ships none): apt's variants cannot see the CPU here" });
  t.like(readings.find((r) => r.detector === 'pacman-arch'), { answer: 'absent', level: null, note: 'pacman is not installed' });
});
