import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { detectionCommand, levelOfArch, levelOfFeatures, parseCpuidDiagnostics, parseDetection, parseModalias } from '../../harness/levels/detectors.js';
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

test('a v3 guest: the CPU, the kernel, glibc, rpm and libzypp say v3; dnf5 says x86_64', async (t) => {
  const readings = parseDetection(await sample('v3'));
  // The samples come from guests before apt and pacman were in the image: their detectors had no section (no answer).
  t.deepEqual(levels(readings), { cpuid: 'v3', cpuinfo: 'v3', modalias: 'v3', glibc: 'v3', rpm: 'v3', libzypp: 'v3', 'dnf5-arch': 'v1', 'dnf5-basearch': 'v1', ...NO_APT_PACMAN });
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
  const readings = parseDetection('=== levelgate-detector rpm\nabsent\n=== levelgate-detector libzypp\nx86_64_v2\n');
  const rpm = readings.find((r) => r.detector === 'rpm')!;
  t.deepEqual([rpm.level, rpm.note], [null, 'rpm is not installed']);
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
