import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import test from 'ava';
import { classifyInput, runAudit } from '../../../harness/audit/audit.js';
import { allowedLevel, auditExitCode, judgeFile } from '../../../harness/audit/findings.js';
import { readRpmHeader, RpmError } from '../../../harness/audit/rpm-header.js';
import type { AuditRun, FileAudit, PackageAudit } from '../../../harness/audit/types.js';
import { buildAuditElves, buildRpm, type AuditElves } from '../../fixtures/audit-elves.js';
import { writeRepo } from '../../fixtures/repodata.js';

let root: string;
let elves: AuditElves;
const rpms: Record<string, string> = {};
test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'levelgate-audit-run-'));
  elves = await buildAuditElves(path.join(root, 'elves'));
  const out = path.join(root, 'rpms');
  await mkdir(out, { recursive: true });
  const specs = [
    { name: 'lgplain', arch: 'x86_64', files: { '/usr/bin/lgplain': elves.plain } },
    { name: 'lgclones', arch: 'x86_64', files: { '/usr/bin/lgclones': elves.clonesStripped }, payload: 'w19.zstdio' },
    { name: 'lgwide', arch: 'x86_64_v3', files: { '/usr/bin/lgwide': elves.avx512 }, payload: 'w6.xzdio' },
    { name: 'lgv3ok', arch: 'x86_64_v3', files: { '/usr/bin/lgv3ok': elves.plain } },
    { name: 'lgclean', arch: 'x86_64', files: { '/usr/bin/lgclean': elves.clean, '/usr/share/doc/lgclean/README': elves.text } },
    {
      name: 'lghwcaps',
      arch: 'x86_64',
      files: { '/usr/lib64/libscale.so.1': elves.clean, '/usr/lib64/glibc-hwcaps/x86-64-v3/libscale.so.1': elves.libV3, '/usr/lib64/glibc-hwcaps/x86-64-v2/libscale.so.1': elves.libV3 },
    },
  ] as const;
  for (const spec of specs) rpms[spec.name] = await buildRpm(out, spec);
  const whole = await readFile(rpms.lgclean!);
  rpms.truncated = path.join(out, 'lgtrunc-1.0-1.x86_64.rpm');
  await writeFile(rpms.truncated, whole.subarray(0, whole.length - 200));
});
test.after.always(async () => {
  await rm(root, { recursive: true, force: true });
});

const audit = (inputs: string[], looseArch = 'x86_64'): Promise<AuditRun> => runAudit(inputs, { jobs: 2, looseArch });
const pkg = (run: AuditRun, id: string): PackageAudit => {
  const p = run.packages.find((x) => x.id.startsWith(id));
  if (!p) throw new Error(`no package ${id} in ${run.packages.map((x) => x.id).join(', ')}`);
  return p;
};

test('rpm header: name, version, release and arch; a text file named .rpm and a truncated RPM say so', async (t) => {
  const h = await readRpmHeader(rpms.lgwide!);
  t.like(h, { name: 'lgwide', version: '1.0', release: '1', arch: 'x86_64_v3', binary: true, payloadCompressor: 'xz' });
  const notRpm = await t.throwsAsync(readRpmHeader(elves.notRpm), { instanceOf: RpmError });
  t.regex(notRpm!.message, /^not an RPM package: it starts with 23 21 2f 62/);
  const cut = await t.throwsAsync(readRpmHeader(rpms.truncated!), { instanceOf: RpmError });
  t.regex(cut!.message, /^truncated: the package says it is \d+ bytes long; the file has \d+/);
});

test('RPMs: AVX2 outside any dispatch in an x86_64 package is a finding; behind an IFUNC it is not', async (t) => {
  const run = await audit([rpms.lgplain!, rpms.lgclones!, rpms.lgclean!]);
  const plain = pkg(run, 'lgplain-1.0-1.x86_64');
  t.is(plain.verdict, 'finding');
  t.is(plain.allowed, 'v1');
  t.is(plain.findings[0]!.path, '/usr/bin/lgplain');
  t.true(plain.findings[0]!.features.includes('AVX2'));
  t.regex(plain.findings[0]!.message, /^\/usr\/bin\/lgplain needs .*AVX2.* \(x86-64-v3\) without a CPU check; the package claims x86-64-v1: v\S+ \S+ at 0x[0-9a-f]+$/);
  const clones = pkg(run, 'lgclones');
  t.is(clones.verdict, 'pass');
  t.is(clones.files[0]!.conditional?.level, 'v3', 'listed as conditional (zstd payload unpacked)');
  const clean = pkg(run, 'lgclean');
  t.is(clean.verdict, 'pass');
  t.is(clean.otherFiles, 1);
  t.is(auditExitCode(run.packages.map((p) => p.verdict)), 1);
});

test('RPMs: an x86_64_v3 package with AVX-512 is a finding; with AVX2 it is not', async (t) => {
  const run = await audit([rpms.lgwide!, rpms.lgv3ok!]);
  const wide = pkg(run, 'lgwide');
  t.is(wide.verdict, 'finding');
  t.is(wide.allowed, 'v3');
  t.is(wide.findings[0]!.needs, 'v4');
  t.true(wide.findings[0]!.features.includes('AVX512F'));
  t.is(pkg(run, 'lgv3ok').verdict, 'pass');
});

test('glibc-hwcaps copies are judged against their directory: v3 code under x86-64-v3 passes, under x86-64-v2 it does not', async (t) => {
  const run = await audit([rpms.lghwcaps!]);
  const p = pkg(run, 'lghwcaps');
  t.is(p.verdict, 'finding');
  t.deepEqual(
    p.findings.map((f) => [f.path, f.allowed, f.needs]),
    [['/usr/lib64/glibc-hwcaps/x86-64-v2/libscale.so.1', 'v2', 'v3']],
  );
  t.regex(p.findings[0]!.message, /its glibc-hwcaps directory promises x86-64-v2/);
});

test('a .rpm that is no RPM and a truncated RPM are reported for themselves; the audit goes on', async (t) => {
  const run = await audit([elves.notRpm, rpms.truncated!, rpms.lgclean!]);
  t.is(run.packages.length, 3);
  const notRpm = pkg(run, elves.notRpm);
  t.is(notRpm.verdict, 'error');
  t.regex(notRpm.problem!, /not an RPM package/);
  t.regex(pkg(run, rpms.truncated!).problem!, /truncated/);
  t.is(pkg(run, 'lgclean').verdict, 'pass');
  t.is(run.totals.errors, 2);
});

test('a repository: every package its metadata lists, by location', async (t) => {
  const repo = path.join(root, 'repo');
  await writeRepo(repo, [
    { name: 'lgplain', version: '1.0', arch: 'x86_64' },
    { name: 'lgclean', version: '1.0', arch: 'x86_64' },
  ]);
  await copyFile(rpms.lgplain!, path.join(repo, 'lgplain-1.0-1.x86_64.rpm'));
  await copyFile(rpms.lgclean!, path.join(repo, 'lgclean-1.0-1.x86_64.rpm'));
  t.is(await classifyInput(repo), 'repository');
  const run = await audit([repo]);
  t.deepEqual(
    run.packages.map((p) => [p.id, p.inputKind, p.verdict]),
    [
      ['lgclean-1.0-1.x86_64', 'repository', 'pass'],
      ['lgplain-1.0-1.x86_64', 'repository', 'finding'],
    ],
  );
});

test('an installed tree: owners from dpkg lists (through usrmerge links), Debian amd64 claims x86_64, unowned files are not judged', async (t) => {
  const tree = path.join(root, 'tree');
  await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
  await mkdir(path.join(tree, 'usr/local/bin'), { recursive: true });
  await mkdir(path.join(tree, 'var/lib/dpkg/info'), { recursive: true });
  await symlink('usr/bin', path.join(tree, 'bin'));
  await copyFile(elves.plain, path.join(tree, 'usr/bin/fast'));
  await copyFile(elves.clean, path.join(tree, 'usr/bin/calm'));
  await copyFile(elves.plain, path.join(tree, 'usr/local/bin/stray'));
  await writeFile(
    path.join(tree, 'var/lib/dpkg/status'),
    'Package: fastpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.0-1\n\nPackage: calmpkg\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-3\n',
  );
  await writeFile(path.join(tree, 'var/lib/dpkg/info/fastpkg:amd64.list'), '/.\n/bin\n/bin/fast\n');
  await writeFile(path.join(tree, 'var/lib/dpkg/info/calmpkg.list'), '/usr/bin/calm\n');
  t.is(await classifyInput(tree), 'tree');
  const run = await audit([tree]);
  t.deepEqual(
    run.packages.map((p) => [p.id, p.manager, p.arch, p.verdict]),
    [
      ['(no package)', 'none', undefined, 'pass'],
      ['calmpkg_1.0-3_amd64', 'dpkg', 'x86_64', 'pass'],
      ['fastpkg_2.0-1_amd64', 'dpkg', 'x86_64', 'finding'],
    ],
  );
  t.is(pkg(run, '(no package)').files[0]!.unconditional?.level, 'v3', 'audited, but no package claims it');
});

test("an installed tree's rpm database names the owner of what rpm installed (read with rpm --root)", async (t) => {
  const tree = path.join(root, 'rpmtree');
  await mkdir(path.join(tree, 'usr/bin'), { recursive: true });
  await mkdir(path.join(tree, 'var/lib/rpm'), { recursive: true });
  await execa('rpm', ['--root', tree, '--dbpath', '/var/lib/rpm', '--initdb']);
  await execa('rpm', ['--root', tree, '--dbpath', '/var/lib/rpm', '-i', '--justdb', '--nodeps', '--ignorearch', rpms.lgwide!]);
  await copyFile(elves.avx512, path.join(tree, 'usr/bin/lgwide'));
  const run = await audit([tree]);
  t.deepEqual(
    run.packages.map((p) => [p.id, p.manager, p.arch, p.verdict]),
    [['lgwide-1.0-1.x86_64_v3', 'rpm', 'x86_64_v3', 'finding']],
  );
});

test('loose files: ELF files claimed at --arch; a text file is skipped with its reason; a truncated ELF is an error', async (t) => {
  const run = await audit([elves.avx512, elves.text, elves.truncated], 'x86_64_v4');
  t.is(pkg(run, elves.avx512).verdict, 'pass');
  t.is(pkg(run, elves.text).files[0]!.status, 'skipped');
  t.is(pkg(run, elves.text).verdict, 'pass');
  t.is(pkg(run, elves.truncated).verdict, 'error');
  t.regex(pkg(run, elves.truncated).files[0]!.reason!, /truncated/);
});

test('findings: noarch must run anywhere, another family is not judged, the hwcaps level raises the allowance', (t) => {
  t.is(allowedLevel('noarch'), 'v1');
  t.is(allowedLevel('x86_64_v2'), 'v2');
  t.is(allowedLevel('aarch64'), undefined);
  const file = { path: '/x', status: 'audited', codeBytes: 1, milliseconds: 0, unconditional: { level: 'v3', levelSetBy: ['AVX2'], beyond: [], features: [{ feature: 'AVX2', level: 'v3', count: 1, examples: [] }], discounted: [], instructions: 1, functions: [] } } as FileAudit;
  t.truthy(judgeFile(file, 'v2'));
  t.is(judgeFile(file, 'v3'), undefined);
  t.is(judgeFile(file, undefined), undefined);
  t.is(judgeFile({ ...file, loaderLevel: 'v3' }, 'v1'), undefined);
});
