import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { APT_REPO_VIEW, APT_SOURCES_FILE, APT_VARIANTS_FILE, apt, aptSourcesFile, DPKG_INSTALLED, parseAptRepoView, parseDpkgInstalled } from '../../harness/drivers/apt.js';
import { DRIVERS } from '../../harness/drivers/index.js';
import { PACMAN_CONF, PACMAN_OPTIONS_FILE, pacman, pacmanConf, parsePacmanInstalled } from '../../harness/drivers/pacman.js';
import { debControl, debFileName, pacmanFileName, pkgInfo, releaseArchitectures } from '../../harness/fixtures/package-formats.js';
import { repoPublications } from '../../harness/fixtures/build.js';
import { installedFilesNamed, packageOwners } from '../../harness/forensics/package-owner.js';
import { archOfDebian, debianArchOf } from '../../harness/levels/arch.js';
import { parseAptVariants, parseDetection, parsePacmanArch } from '../../harness/drivers/detectors.js';
import { featuresUpTo, LEVEL_NAMES } from '../../harness/levels/table.js';
import { parseRelease, parseStanzas } from '../../harness/repos/apt-metadata.js';
import { parsePacmanDescs } from '../../harness/repos/pacman-metadata.js';
import { aptRepo, defineScenario, install, enable, variants } from '../../harness/index.js';
import { fixtureRepoPath } from '../../harness/scenario/types.js';
import { DRIVER_FORMAT, DRIVER_NAMES, formatsOf } from '../../harness/model/package-manager.js';

const out = (exitCode: number | null, stderr = '', stdout = '') => ({ exitCode, signal: null, stdout, stderr });
const REPO = { id: 's-main', path: '/mnt/fixtures/s/main@apt', apt: { suite: 'sid', components: ['main'] } };

test('apt: exactly these repositories in one sources file, loaded by apt-get update; operations by name', (t) => {
  const { commands, refresh } = apt.configureRepos([REPO, { id: 'u', path: '/mnt/repos/u', apt: { suite: 'noble', components: ['main', 'universe'] } }]);
  t.deepEqual(commands, [
    { argv: ['rm', '-f', '/etc/apt/sources.list'] },
    { argv: ['find', '/etc/apt/sources.list.d', '-mindepth', '1', '!', '-name', 'levelgate.list', '-delete'] },
    { argv: ['tee', APT_SOURCES_FILE], input: 'deb [trusted=yes] file:/mnt/fixtures/s/main@apt sid main\ndeb [trusted=yes] file:/mnt/repos/u noble main universe\n' },
  ]);
  t.deepEqual(refresh, { argv: ['apt-get', 'update'] });
  t.is(aptSourcesFile([]), '');
  const base = ['apt-get', '-y', '-o', 'APT::Install-Recommends=false'];
  t.deepEqual(apt.operation('install', ['lgx', 'lgy'])?.argv, [...base, 'install', 'lgx', 'lgy']);
  t.deepEqual(apt.operation('upgrade', ['lgx'])?.argv, [...base, 'install', '--only-upgrade', 'lgx']);
  t.deepEqual(apt.operation('upgrade', [])?.argv, [...base, 'upgrade']);
  t.deepEqual(apt.operation('distro-sync', ['lgx'])?.argv, [...base, 'dist-upgrade']);
  t.deepEqual(apt.operation('remove', ['lgx'])?.argv, [...base, 'remove', 'lgx']);
  t.is(apt.operation('downgrade', ['lgx']), undefined);
  t.is(apt.operation('install-new-recommends', []), undefined);
  t.deepEqual(apt.installFile('/mnt/x/lgx_1.0-1_amd64v3.deb').argv, [...base, 'install', '/mnt/x/lgx_1.0-1_amd64v3.deb']);
  t.deepEqual(apt.listUpdates()?.argv, ['apt', '-o', 'Apt::Cmd::Disable-Script-Warning=true', 'list', '--upgradable']);
  t.is(apt.releaseUpgrade('2'), undefined);
  t.is(apt.detector, 'apt-variants');
});

test('apt: an arch override writes APT::Architecture-Variants; default removes it; x86_64 has no variant to name', (t) => {
  t.deepEqual(apt.overrideArch('x86_64_v3'), [{ argv: ['tee', APT_VARIANTS_FILE], input: 'APT::Architecture-Variants "amd64v3";\n' }]);
  t.deepEqual(apt.overrideArch('default'), [{ argv: ['rm', '-f', APT_VARIANTS_FILE] }]);
  t.is(apt.overrideArch('x86_64'), undefined);
  t.is(apt.overrideArch('noarch'), undefined);
});

test('apt: the installed set is dpkg status minus the image, variant as levelgate arch', (t) => {
  t.is(apt.installedQuery, DPKG_INSTALLED);
  t.deepEqual(DPKG_INSTALLED.argv.slice(0, 2), ['sh', '-c']);
  t.regex(DPKG_INSTALLED.argv[2]!, /\$\{Architecture-Variant\}/);
  t.regex(DPKG_INSTALLED.argv[2]!, /\/usr\/lib\/levelgate\/dpkg-image\.list/);
  t.deepEqual(parseDpkgInstalled('lgmixed 1.0-1 amd64 amd64v3\nlgbase 2:1.1-4 amd64 \nlgall 1.0-1 all \n\n'), ['lgall-1.0-1.noarch', 'lgbase-2:1.1-4.x86_64', 'lgmixed-1.0-1.x86_64_v3']);
});

test("apt: the repository view maps each version's index to the repository and the variant, Architecture: all to noarch", (t) => {
  t.deepEqual(APT_REPO_VIEW.argv.slice(0, 2), ['sh', '-c']);
  const policy = [
    'lgmixed:',
    '  Installed: (none)',
    '  Candidate: 1.0-1',
    '  Version table:',
    '     1.0-1 500',
    '        500 file:/mnt/fixtures/s/main@apt sid/main amd64v3 Packages',
    ' *** 1.0-1 100',
    '        100 /var/lib/dpkg/status',
    'lgall:',
    '  Version table:',
    '     1.0-1 500',
    '        500 file:/mnt/fixtures/s/main@apt sid/main amd64v3 Packages',
    'other:',
    '  Version table:',
    '     2.0-1 500',
    '        500 file:/elsewhere sid/main amd64 Packages',
    '=== levelgate-apt-show',
    'Package: lgall',
    'Version: 1.0-1',
    'Architecture: all',
    '',
    'Package: lgmixed',
    'Version: 1.0-1',
    'Architecture: amd64',
    'Architecture-Variant: amd64v3',
    '',
  ].join('\n');
  t.deepEqual([...parseAptRepoView(policy, [REPO])], [['s-main', ['lgmixed-1.0-1.x86_64_v3', 'lgall-1.0-1.noarch']]]);
  t.true(apt.alwaysShows('noarch'));
  t.false(apt.alwaysShows('x86_64'));
});

test("apt: the exit-status contract; 'Skipping acquire' and 'Invalid value' are errors whatever the status", (t) => {
  t.deepEqual(apt.judge('operation', out(0)), { kind: 'ok' });
  t.deepEqual(apt.judge('operation', out(100, 'E: Unable to locate package lgpartial\n')), { kind: 'refused', reason: 'not-found', message: 'E: Unable to locate package lgpartial' });
  t.is((apt.judge('operation', out(100, 'E: Unmet dependencies. Try ...\n')) as { reason?: string }).reason, 'dependency');
  t.is(apt.judge('operation', out(100, 'E: Could not get lock /var/lib/dpkg/lock-frontend\n')).kind, 'error');
  // Outside the contract (0 or 100) or killed: apt broken, the product's failure, never retried.
  t.deepEqual(apt.judge('operation', out(1, 'weird\n')), { kind: 'broken', message: 'apt-get exit status 1, outside its contract (0 or 100): weird' });
  t.is(apt.judge('operation', { exitCode: null, signal: 'SIGSEGV', stdout: '', stderr: '' }).kind, 'broken');
  t.is(apt.judge('configure', out(2, 'tee: /etc/apt: Read-only file system\n')).kind, 'error');
  t.is(apt.judge('query', out(2, 'E: broken\n')).kind, 'broken');
  const skipping = "W: Skipping acquire of configured file 'main/binary-amd64v3/Packages' as repository 'file:/mnt/x sid InRelease' doesn't have the component 'main' (component misspelt in sources.list?)\n";
  t.deepEqual(apt.judge('refresh', out(0, skipping)), { kind: 'error', message: `apt did not use a configured repository or variant: ${skipping.trim()}` });
  t.is(apt.judge('operation', out(0, 'W: Invalid value for APT::Architecture-Variants: amd64v9\n')).kind, 'error');
  t.is(apt.judge('query', out(0, 'W: Invalid value for APT::Architecture-Variants: amd64v9\n')).kind, 'error');
  t.deepEqual(apt.judge('refresh', out(0, '', 'Get:1 file:/mnt/x sid InRelease\nReading package lists...\n')), { kind: 'ok' });
  t.deepEqual(apt.parseUpdates('Listing...\nlgstale/sid 1.1-1 amd64 [upgradable from: 1.0-1]\nlgother/sid 2.0-1 amd64 [installed]\n'), ['lgstale']);
});

test('pacman: pacman.conf with the repositories in order, the Architecture in an included file; operations', (t) => {
  const repos = [{ id: 's-cachyos-v3', path: '/mnt/fixtures/s/cachyos-v3@pacman' }, { id: 's-core', path: '/mnt/fixtures/s/core@pacman' }];
  t.deepEqual(pacman.configureRepos(repos), { commands: [{ argv: ['tee', PACMAN_CONF], input: pacmanConf(repos) }], refresh: { argv: ['pacman', '--noconfirm', '-Sy'] } });
  t.is(
    pacmanConf(repos),
    `[options]\nInclude = ${PACMAN_OPTIONS_FILE}\nSigLevel = Never\nLocalFileSigLevel = Never\nDisableSandboxFilesystem\nDisableSandboxSyscalls\n\n[s-cachyos-v3]\nServer = file:///mnt/fixtures/s/cachyos-v3@pacman\n\n[s-core]\nServer = file:///mnt/fixtures/s/core@pacman\n`,
  );
  t.deepEqual(pacman.operation('install', ['lgp'])?.argv, ['pacman', '--noconfirm', '-S', 'lgp']);
  t.deepEqual(pacman.operation('upgrade', ['lgp'])?.argv, ['pacman', '--noconfirm', '-Syu']);
  t.deepEqual(pacman.operation('distro-sync', [])?.argv, ['pacman', '--noconfirm', '-Syuu']);
  t.deepEqual(pacman.operation('remove', ['lgp'])?.argv, ['pacman', '--noconfirm', '-R', 'lgp']);
  t.is(pacman.operation('downgrade', ['lgp']), undefined);
  t.deepEqual(pacman.installFile('/mnt/x/lgp-1.0-1-x86_64_v3.pkg.tar.zst').argv, ['pacman', '--noconfirm', '-U', '/mnt/x/lgp-1.0-1-x86_64_v3.pkg.tar.zst']);
  t.deepEqual(pacman.listUpdates()?.argv, ['pacman', '-Qu']);
  t.deepEqual(pacman.installedQuery.argv, ['pacman', '-Qi']);
  t.deepEqual(pacman.overrideArch('x86_64_v3'), [{ argv: ['tee', PACMAN_OPTIONS_FILE], input: 'Architecture = x86_64 x86_64_v3\n' }]);
  t.deepEqual(pacman.overrideArch('x86_64'), [{ argv: ['tee', PACMAN_OPTIONS_FILE], input: 'Architecture = x86_64\n' }]);
  t.deepEqual(pacman.overrideArch('default'), [{ argv: ['tee', PACMAN_OPTIONS_FILE], input: 'Architecture = auto\n' }]);
  t.is(pacman.detector, 'pacman-arch');
});

test('pacman: -Qi and -Si blocks are parsed; -Qu lines; the exit-status contract (1 with nothing printed: nothing to list)', (t) => {
  const si = 'Repository      : s-v3\nName            : lgp\nVersion         : 1.0-1\nArchitecture    : x86_64_v3\n\nRepository      : s-core\nName            : lgp\nVersion         : 1:1.1-1\nArchitecture    : any\n\n';
  t.deepEqual([...pacman.parseRepoView(si, [])], [['s-v3', ['lgp-1.0-1.x86_64_v3']], ['s-core', ['lgp-1:1.1-1.noarch']]]);
  t.deepEqual(parsePacmanInstalled('Name            : lgq\nVersion         : 1.0-1.1\nArchitecture    : x86_64\n\nName            : lgp\nVersion         : 1.0-1\nArchitecture    : x86_64_v3\n'), ['lgp-1.0-1.x86_64_v3', 'lgq-1.0-1.1.x86_64']);
  t.deepEqual(pacman.parseUpdates('lgstale 1.0-1 -> 1.1-1\n'), ['lgstale']);
  t.deepEqual(pacman.judge('list-updates', out(1)), { kind: 'ok' });
  t.is(pacman.judge('query', out(1, 'error: package not found\n')).kind, 'broken');
  t.deepEqual(pacman.judge('operation', out(1, 'error: failed to prepare transaction (package architecture is not valid)\n:: package lgp-1.0-1-x86_64_v3 does not have a valid architecture\n')), {
    kind: 'refused',
    reason: 'incompatible-arch',
    message: 'error: failed to prepare transaction (package architecture is not valid) | :: package lgp-1.0-1-x86_64_v3 does not have a valid architecture',
  });
  t.is((pacman.judge('operation', out(1, 'error: target not found: nope\n')) as { reason?: string }).reason, 'not-found');
  t.is(pacman.judge('operation', out(1, 'error: failed to synchronize all databases\n')).kind, 'error');
  t.is(pacman.judge('refresh', out(1, 'error: failed retrieving file\n')).kind, 'error');
  t.true(pacman.alwaysShows('x86_64_v3'));
});

test('drivers: the table knows apt and pacman, and the format each reads', (t) => {
  t.deepEqual(Object.keys(DRIVERS).sort(), [...DRIVER_NAMES].sort());
  t.is(DRIVER_FORMAT.apt, 'apt');
  t.is(DRIVER_FORMAT.pacman, 'pacman');
  t.deepEqual(formatsOf(['dnf5', 'apt']), ['rpm-md', 'apt']);
  t.is(fixtureRepoPath('s', 'main', 'rpm-md'), 's/main');
  t.is(fixtureRepoPath('s', 'main', 'pacman'), 's/main@pacman');
});

test("Debian and pacman arch words: amd64 + amd64v3 is x86_64_v3, all is noarch", (t) => {
  t.deepEqual(debianArchOf('x86_64_v3'), { architecture: 'amd64', variant: 'amd64v3' });
  t.deepEqual(debianArchOf('x86_64'), { architecture: 'amd64' });
  t.deepEqual(debianArchOf('noarch'), { architecture: 'all' });
  t.is(archOfDebian('amd64', 'amd64v4'), 'x86_64_v4');
  t.is(archOfDebian('amd64', 'amd64v1'), 'x86_64');
  t.is(archOfDebian('amd64'), 'x86_64');
  t.is(archOfDebian('all'), 'noarch');
  t.is(archOfDebian('arm64'), 'arm64');
});

test('fixtures: a .deb control carries Ubuntu variant fields; a .PKGINFO the pacman arch; file names', (t) => {
  const v3 = { name: 'lgx', version: '1.0', arch: 'x86_64_v3' as const, requires: ['lgx-libs = 1.0-1', 'lgy'] };
  t.is(
    debControl(v3),
    'Package: lgx\nVersion: 1.0-1\nArchitecture: amd64\nArchitecture-Variant: amd64v3\nMaintainer: levelgate <levelgate@localhost>\nDepends: lgx-libs (= 1.0-1), lgy\nDescription: levelgate fixture lgx-1.0-1.x86_64_v3\n',
  );
  t.is(debFileName(v3), 'lgx_1.0-1_amd64v3.deb');
  t.is(debFileName({ name: 'lgn', version: '2', arch: 'noarch' }), 'lgn_2-1_all.deb');
  t.is(pacmanFileName({ name: 'lgp', version: '1.0', release: '1.1', arch: 'x86_64' }), 'lgp-1.0-1.1-x86_64.pkg.tar.zst');
  t.is(
    pkgInfo({ name: 'lgp', version: '1.0', arch: 'x86_64_v3', requires: ['lgq>=1'] }, 4096),
    'pkgname = lgp\npkgbase = lgp\npkgver = 1.0-1\npkgdesc = levelgate fixture lgp-1.0-1.x86_64_v3\nbuilddate = 1700000000\npackager = levelgate <levelgate@localhost>\nsize = 4096\narch = x86_64_v3\nlicense = MIT\ndepend = lgq>=1\n',
  );
  t.throws(() => debControl({ name: 'lgs', version: '1', arch: 'x86_64', supplements: ['modalias(x)'] }), { message: 'fixture lgs-1-1.x86_64: Debian packages have no Supplements' });
  t.throws(() => pkgInfo({ name: 'lgr', version: '1', arch: 'x86_64', requires: ['(a and b)'] }, 1), { message: "fixture lgr-1-1.x86_64: dependency '(a and b)' cannot be written for pacman (only NAME or NAME OP VERSION)" });
  t.is(releaseArchitectures('standalone', ['amd64v2', 'amd64v3']), 'amd64 amd64v2 amd64v3');
  t.is(releaseArchitectures('overlay', ['amd64v3']), 'amd64');
  t.is(releaseArchitectures('no-architectures', ['amd64v3']), undefined);
});

test('fixtures: each apt or pacman scenario repository is published once per format, with its layout and database name', (t) => {
  const s = defineScenario({
    id: 's',
    title: 't',
    drivers: ['apt', 'dnf5'],
    repos: { std: variants('lgx', '1.0', ['x86_64', 'x86_64_v3']), ov: aptRepo(variants('lgy', '1.0', ['x86_64']), 'overlay') },
    steps: [enable('std'), install('lgx')],
  });
  t.deepEqual(
    repoPublications([s], 'apt').map((r) => [r.location, r.layout, r.db, r.builds.length]),
    [['s/std@apt', 'standalone', 's-std', 2], ['s/ov@apt', 'overlay', 's-ov', 1]],
  );
  t.deepEqual(repoPublications([s], 'pacman'), []);
});

test('detectors: apt variants (auto, explicit, none, invalid) and pacman architecture', (t) => {
  t.deepEqual(parseAptVariants('apt-variants', 'variant auto: amd64v4: missing: avx512f\nVariants enabled: amd64v3 amd64v2 amd64v1'), {
    detector: 'apt-variants',
    answer: 'amd64v3 amd64v2 amd64v1',
    level: 'v3',
    note: 'amd64v4 lacks avx512f',
  });
  t.deepEqual(parseAptVariants('apt-variants', 'variant auto: amd64v4: missing: fma\nvariant auto: amd64v3: missing: fma\nVariants enabled: amd64v2 amd64v1'), {
    detector: 'apt-variants',
    answer: 'amd64v2 amd64v1',
    level: 'v2',
    note: 'amd64v3 lacks fma',
  });
  t.deepEqual(parseAptVariants('apt-variants', 'Variants enabled:'), { detector: 'apt-variants', answer: 'none (amd64 only)', level: 'v1', note: 'no variant enabled: amd64 only' });
  t.regex(String(parseAptVariants('apt-test-table', 'Variants enabled:\nW: Invalid value for APT::Architecture-Variants: amd64v9')), /^warned: Invalid value/);
  t.deepEqual(parsePacmanArch('x86_64'), { detector: 'pacman-arch', answer: 'x86_64', level: 'v1' });
  t.deepEqual(parsePacmanArch('x86_64\nx86_64_v3'), { detector: 'pacman-arch', answer: 'x86_64 x86_64_v3', level: 'v3' });
  t.is(parsePacmanArch('error: config file /etc/pacman.conf could not be read'), 'printed no x86_64 arch');
  const readings = parseDetection(
    '=== levelgate-detector apt-variants\nVariants enabled: amd64v2 amd64v1\n=== levelgate-exit 0\n=== levelgate-detector apt-test-table\nVariants enabled: amd64v2 amd64v1\n=== levelgate-exit 0\n=== levelgate-detector pacman-arch\nx86_64\n=== levelgate-exit 0\n',
  );
  t.deepEqual(
    readings.filter((r) => ['apt-variants', 'apt-test-table', 'pacman-arch'].includes(r.detector)).map((r) => [r.detector, r.level]),
    [['apt-variants', 'v2'], ['apt-test-table', 'v2'], ['pacman-arch', 'v1']],
  );
});

test("the guest's varianttable is the psABI, row by row, in /proc/cpuinfo's words; apt's test table lacks pni in v2", (t) => {
  const rows = (file: string) =>
    new Map(
      readFileSync(fileURLToPath(new URL(`../../../harness/image/guest/${file}`, import.meta.url)), 'utf8')
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.trim().split(/\s+/))
        .map(([variant, arch, flags]) => [variant!, { arch, flags: flags!.split(',').sort() }]),
    );
  const psabi = rows('varianttable');
  for (const level of LEVEL_NAMES) {
    const want = featuresUpTo(level).flatMap((f) => (f.cpuinfo ? [f.cpuinfo] : [])).sort();
    t.deepEqual(psabi.get(`amd64${level}`), { arch: 'amd64', flags: want }, `amd64${level}`);
  }
  const aptTest = rows('apt-test-varianttable');
  t.false(aptTest.get('amd64v2')!.flags.includes('pni'));
  t.true(psabi.get('amd64v2')!.flags.includes('pni'));
});

test('repository metadata: an apt Release and Packages stanzas, a pacman database', (t) => {
  const release = parseRelease('Architectures: amd64 amd64v3\nCodename: sid\nComponents: main\nSuite: sid\nSHA256:\n ' + 'a'.repeat(64) + '  1011 main/binary-amd64/Packages\n ' + 'b'.repeat(64) + '  539 main/binary-amd64v3/Packages\n', 'x');
  t.deepEqual(release, { suite: 'sid', components: ['main'], architectures: ['amd64', 'amd64v3'], files: ['main/binary-amd64/Packages', 'main/binary-amd64v3/Packages'] });
  t.is(parseRelease('Suite: noble\n', 'x').architectures, undefined);
  t.deepEqual(parseStanzas('Package: a\nVersion: 1-1\n\nPackage: b\n'), [new Map([['Package', 'a'], ['Version', '1-1']]), new Map([['Package', 'b']])]);
  t.deepEqual(parsePacmanDescs('%FILENAME%\nlgp-1.0-1-x86_64_v3.pkg.tar.zst\n\n%NAME%\nlgp\n\n%VERSION%\n1.0-1\n\n%ARCH%\nx86_64_v3\n\n%FILENAME%\nlgq-2-1-any.pkg.tar.zst\n\n%NAME%\nlgq\n\n%VERSION%\n1:2-1\n\n%ARCH%\nany\n'), [
    { name: 'lgp', epoch: 0, version: '1.0', release: '1', arch: 'x86_64_v3', location: 'lgp-1.0-1-x86_64_v3.pkg.tar.zst', files: [] },
    { name: 'lgq', epoch: 1, version: '2', release: '1', arch: 'noarch', location: 'lgq-2-1-any.pkg.tar.zst', files: [] },
  ]);
});

test("forensics: the owner of a file comes from rpm's, dpkg's or pacman's database, whichever has it", async (t) => {
  const answers = new Map<string, { exitCode: number; stdout: string }>([
    ['rpm -qf', { exitCode: 1, stdout: '' }],
    ['dpkg-query -S', { exitCode: 0, stdout: 'lgmove: /usr/bin/lgmove\n' }],
    ['dpkg-query -W', { exitCode: 0, stdout: 'lgmove 1.0-1 amd64 amd64v3\n' }],
  ]);
  const asked: string[] = [];
  const exec = async (argv: readonly string[]) => {
    asked.push(argv.join(' '));
    return { ...(answers.get(argv.slice(0, 2).join(' ')) ?? { exitCode: 1, stdout: '' }), stderr: '' };
  };
  t.deepEqual(await packageOwners(exec, '/usr/bin/lgmove'), ['lgmove-1.0-1.x86_64_v3 (dpkg)']);
  t.deepEqual(asked[0], 'rpm -qf --qf %{NAME} %{EPOCHNUM} %{VERSION}-%{RELEASE}.%{ARCH}\\n /usr/bin/lgmove');
  const pacmanExec = async (argv: readonly string[]) => {
    if (argv[0] === 'pacman' && argv[1] === '-Qo') return { exitCode: 0, stdout: '/usr/bin/lgp is owned by lgp 1.0-1\n', stderr: '' };
    if (argv[0] === 'pacman' && argv[1] === '-Qi') return { exitCode: 0, stdout: 'Name            : lgp\nVersion         : 1.0-1\nArchitecture    : x86_64_v3\n', stderr: '' };
    if (argv[0] === 'pacman' && argv[1] === '-Qlq') return { exitCode: 0, stdout: '/usr/\n/usr/bin/\n/usr/bin/lgp\n', stderr: '' };
    return { exitCode: 1, stdout: '', stderr: '' };
  };
  t.deepEqual(await packageOwners(pacmanExec, '/usr/bin/lgp'), ['lgp-1.0-1.x86_64_v3 (pacman)']);
  t.deepEqual(await installedFilesNamed(pacmanExec, 'lgp'), ['/usr/bin/lgp']);
  t.deepEqual(await packageOwners(async () => ({ exitCode: 1, stdout: '', stderr: '' }), '/x'), []);
});

test('--repo: the kind of a repository is read from its metadata (dists/ for apt, NAME.db for pacman); a pacman repository is named by its database', async (t) => {
  const { mkdir, writeFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const { execa } = await import('execa');
  const { dir } = await import('tmp-promise');
  const { readRepoMetadata } = await import('../../harness/repos/repodata.js');
  const tmp = await dir({ unsafeCleanup: true });
  try {
    const aptDir = path.join(tmp.path, 'ppa');
    await mkdir(path.join(aptDir, 'dists/noble/main/binary-amd64v3'), { recursive: true });
    await writeFile(path.join(aptDir, 'dists/noble/main/binary-amd64v3/Packages'), 'Package: lgx\nVersion: 1:2.0-3\nArchitecture: amd64\nArchitecture-Variant: amd64v3\nFilename: pool/lgx_2.0-3_amd64v3.deb\n\n');
    await writeFile(path.join(aptDir, 'dists/noble/Release'), `Suite: noble\nComponents: main universe\nArchitectures: amd64 amd64v3\nSHA256:\n ${'c'.repeat(64)} 100 main/binary-amd64v3/Packages\n`);
    const aptMeta = await readRepoMetadata(aptDir);
    t.deepEqual([aptMeta.format, aptMeta.apt, aptMeta.packages.map((p) => `${p.name} ${p.epoch}:${p.version}-${p.release} ${p.arch}`)], ['apt', { suite: 'noble', components: ['main', 'universe'] }, ['lgx 1:2.0-3 x86_64_v3']]);

    const pacDir = path.join(tmp.path, 'cachyos-v3');
    await mkdir(path.join(pacDir, 'db/lgp-1.0-1'), { recursive: true });
    await writeFile(path.join(pacDir, 'db/lgp-1.0-1/desc'), '%FILENAME%\nlgp-1.0-1-x86_64_v3.pkg.tar.zst\n\n%NAME%\nlgp\n\n%VERSION%\n1.0-1\n\n%ARCH%\nx86_64_v3\n\n');
    await execa('tar', ['-czf', path.join(pacDir, 'cachyos-v3.db.tar.gz'), '-C', path.join(pacDir, 'db'), 'lgp-1.0-1']);
    const pacMeta = await readRepoMetadata(pacDir);
    t.deepEqual([pacMeta.format, pacMeta.pacman, pacMeta.packages.map((p) => `${p.name} ${p.version}-${p.release} ${p.arch}`)], ['pacman', { db: 'cachyos-v3' }, ['lgp 1.0-1 x86_64_v3']]);

    await t.throwsAsync(readRepoMetadata(path.join(pacDir, 'db')), { message: /is not a repository: it has no repodata\/repomd\.xml \(rpm-md\), dists\/SUITE\/Release \(apt\) or NAME\.db \(pacman\)$/ });
  } finally {
    await tmp.cleanup();
  }
});
