import test from 'ava';
import { parseInstalled, QUERY_INSTALLED } from '../../harness/drivers/driver.js';
import { DNF5_PIN_FILE, DNF5_REPO_FILE, dnf5, dnf5Driver, dnf5RepoFile } from '../../harness/drivers/dnf5.js';
import { rpm } from '../../harness/drivers/rpm.js';
import { ZYPPER_REPO_FILE, zypper, zypperRepoFile } from '../../harness/drivers/zypper.js';

/** Where every command points the tools: levelgate's own repository and cache directories. */
const D = ['--setopt=reposdir=/etc/levelgate/dnf5/repos.d', '--setopt=cachedir=/var/cache/levelgate/dnf5', '--setopt=system_cachedir=/var/cache/levelgate/dnf5'];
const Z = ['zypper', '--non-interactive', '--no-gpg-checks', '--reposd-dir', '/etc/levelgate/zypp/repos.d', '--cache-dir', '/var/cache/levelgate/zypp'];
const out = (exitCode: number | null, stderr = '', stdout = '') => ({ exitCode, signal: null, stdout, stderr });

test('dnf5: exactly the enabled repositories in one file written through tee; operations by name', (t) => {
  const repos = [{ id: 's-base', path: '/mnt/fixtures/s/base' }, { id: 's-rel', path: '/mnt/fixtures/s/release-$releasever' }];
  t.deepEqual(dnf5.configureRepos(repos).commands, [
    { argv: ['mkdir', '-p', '/etc/levelgate/dnf5/repos.d', '/var/cache/levelgate/dnf5'] },
    { argv: ['tee', DNF5_REPO_FILE], input: dnf5RepoFile(repos) },
  ]);
  t.is(dnf5RepoFile(repos.slice(0, 1)), '[s-base]\nname=s-base\nbaseurl=file:///mnt/fixtures/s/base\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\n');
  t.regex(dnf5RepoFile(repos), /baseurl=file:\/\/\/mnt\/fixtures\/s\/release-\$releasever\n/);
  t.deepEqual(dnf5.operation('distro-sync', ['lgsync'])?.argv, ['dnf5', '-y', '--releasever=sid', ...D, '--setopt=install_weak_deps=False', 'distro-sync', 'lgsync']);
  t.deepEqual(dnf5.releaseUpgrade('2')?.argv, ['dnf5', '-y', '--releasever=2', ...D, '--setopt=install_weak_deps=False', 'distro-sync']);
});

test("dnf5 in a distribution image: its own VERSION_ID is $releasever where a scenario sets none", (t) => {
  const fedora = dnf5Driver({ releasever: '45' });
  t.deepEqual(fedora.operation('install', ['x'])?.argv, ['dnf5', '-y', '--releasever=45', ...D, '--setopt=install_weak_deps=False', 'install', 'x']);
  t.deepEqual(fedora.operation('install', ['x'], '46')?.argv.slice(0, 3), ['dnf5', '-y', '--releasever=46']);
});

test('dnf5: the repository view and check-upgrade are parsed; its detector is $arch', (t) => {
  const view = dnf5.parseRepoView('s-base lgx 0 1.0-1 x86_64\ns-base lgx 0 1.0-1 x86_64_v3\ns-upd lgy 2 1.1-3 noarch\n', []);
  t.deepEqual([...view], [['s-base', ['lgx-1.0-1.x86_64', 'lgx-1.0-1.x86_64_v3']], ['s-upd', ['lgy-2:1.1-3.noarch']]]);
  t.deepEqual(dnf5.parseUpdates('Updating and loading repositories:\nRepositories loaded.\nlgstale.x86_64    1.1-1    s-updates\n'), ['lgstale']);
  t.is(dnf5.detector, 'dnf5-arch');
});

test('dnf5: the exit-status contract (check-upgrade 0 or 100; an operation refused for a reason; a crash or another status the tool broken)', (t) => {
  t.deepEqual(dnf5.judge('list-updates', out(100)), { kind: 'ok' });
  t.deepEqual(dnf5.judge('list-updates', out(1, 'Error: x\n')), { kind: 'broken', message: 'exit status 1: Error: x' });
  t.deepEqual(dnf5.judge('operation', out(1, 'Problem: conflicting requests\n  - package lglocal-1.0-1.x86_64_v3 from @commandline does not have a compatible architecture\n')), {
    kind: 'refused',
    reason: 'incompatible-arch',
    message: 'Problem: conflicting requests | - package lglocal-1.0-1.x86_64_v3 from @commandline does not have a compatible architecture',
  });
  t.is(dnf5.judge('operation', out(1, 'No match for argument: nope\n')).kind, 'refused');
  // A pin (excludepkgs) asked for the excluded build by name (arch-pin[v3,dnf5]).
  t.like(dnf5.judge('operation', out(1, "Failed to resolve the transaction:\nArgument 'lgpin.x86_64_v3' matches only excluded packages.\n")), { kind: 'refused', reason: 'conflict' });
  t.is(dnf5.judge('operation', out(1, 'Failed to access RPM "/mnt/x.rpm": No such file or directory\n')).kind, 'error');
  t.is(dnf5.judge('operation', out(2, 'Unknown argument\n')).kind, 'error');
  t.is(dnf5.judge('operation', { exitCode: null, signal: 'SIGKILL', stdout: '', stderr: '' }).kind, 'broken');
});

test('dnf5: a pin excludes every other arch of the package, in a drop-in of its own', (t) => {
  const [mkdir, tee] = dnf5.pin({ name: 'lgpin', arch: 'x86_64' }) ?? [];
  t.deepEqual(mkdir?.argv, ['mkdir', '-p', '/etc/dnf/libdnf5.conf.d']);
  t.deepEqual(tee, { argv: ['tee', DNF5_PIN_FILE], input: '[main]\nexcludepkgs=lgpin.x86_64_v2,lgpin.x86_64_v3,lgpin.x86_64_v4\n' });
});

test('zypper: one repository file, refresh, dist-upgrade for distro-sync and release upgrades, --oldpackage for downgrade', (t) => {
  const repos = [{ id: 'r', path: '/mnt/r' }];
  const { commands, refresh } = zypper.configureRepos(repos, '2');
  t.deepEqual(commands.map((c) => c.argv), [['mkdir', '-p', '/etc/levelgate/zypp/repos.d', '/var/cache/levelgate/zypp'], ['tee', ZYPPER_REPO_FILE]]);
  t.is(commands[1]!.input, zypperRepoFile(repos));
  t.deepEqual(refresh?.argv, [...Z, '--releasever', '2', 'refresh']);
  t.deepEqual(zypper.operation('distro-sync', ['x'])?.argv, [...Z, 'dist-upgrade']);
  t.deepEqual(zypper.operation('downgrade', ['lgnewvar-1.0'])?.argv.slice(-3), ['install', '--oldpackage', 'lgnewvar-1.0']);
  t.deepEqual(zypper.releaseUpgrade('2')?.argv, [...Z, '--releasever', '2', 'dist-upgrade']);
});

test('zypper: list-updates table and the repository view (XML); its detector is libzypp', (t) => {
  const table = 'S | Repository | Name    | Current Version | Available Version | Arch\n--+------------+---------+-----------------+-------------------+-------\nv | s-updates  | lgstale | 1.0-1           | 1.1-1             | x86_64\n';
  t.deepEqual(zypper.parseUpdates(table), ['lgstale']);
  t.deepEqual(zypper.parseUpdates('No updates found.\n'), []);
  const xml = '<solvable-list>\n<solvable status="not-installed" name="lgx" kind="package" edition="1.0-1" arch="x86_64" repository="s-main"/>\n<solvable status="installed" name="lgy" kind="package" edition="2:1.1-1" arch="noarch" repository="(System Packages)"/>\n<solvable status="installed" name="lgz" kind="package" edition="2:1.1-1" arch="noarch" repository="s-main"/>\n</solvable-list>';
  t.deepEqual([...zypper.parseRepoView(xml, [])], [['s-main', ['lgx-1.0-1.x86_64', 'lgz-2:1.1-1.noarch']]]);
  t.is(zypper.detector, 'libzypp');
});

test("zypper: the exit-status contract of zypper(8): 104 and 4 are refusals with the reason the message gives; a failed repository is an error", (t) => {
  // zypper prints this for a local package libzypp dropped for its arch, and for other causes (openSUSE/zypper#551): by its words, not found.
  t.deepEqual(zypper.judge('operation', out(104, "No provider of '_tmpRPMcache_:lglocal=0:1.0-1' found.\n")), {
    kind: 'refused',
    reason: 'not-found',
    message: "No provider of '_tmpRPMcache_:lglocal=0:1.0-1' found.",
  });
  // The arch refusal zypper really prints: rpm's, from its transaction (seen in local-file-v3[v3-noavxstate,zypper]).
  const rpmRefusal = 'Problem occurred during or after installation or removal of packages:\nExecuting the transaction failed because of the following problems:\n    package lglocal-1.0-1.x86_64_v3 is intended for a different architecture\n';
  t.like(zypper.judge('operation', out(8, rpmRefusal)), { kind: 'refused', reason: 'incompatible-arch' });
  // A lock (zypper's pin) in the way (arch-pin[v3,zypper]).
  t.like(zypper.judge('operation', out(4, 'Problem: 1: Detailed information: \n Solution 1: Following actions will be done:\n  remove lock to allow installation of lgpin-1.0-1.x86_64_v3[arch-pin-base]\n')), { kind: 'refused', reason: 'conflict' });
  t.deepEqual(zypper.judge('operation', out(104, "No provider of 'nope' found.\n")), {
    kind: 'refused',
    reason: 'not-found',
    message: "No provider of 'nope' found.",
  });
  t.is(zypper.judge('operation', out(4, "Repository 'bad' is invalid.\n")).kind, 'error');
  t.is(zypper.judge('operation', out(106)).kind, 'error');
  t.is(zypper.judge('operation', out(3, 'Specified local path does not exist\n')).kind, 'error');
  t.is(zypper.judge('operation', out(102)).kind, 'ok');
  t.is(zypper.judge('repo-view', out(104)).kind, 'ok');
  const refresh = zypper.judge('refresh', out(4, "Repository 'bad' is invalid.\nSkipping repository 'bad' because of the above error.\n"));
  t.deepEqual(refresh, { kind: 'error', message: "repositories did not load (bad): Repository 'bad' is invalid. | Skipping repository 'bad' because of the above error." });
});

test('install-new-recommends: zypper inr (its solver case too); dnf5 and rpm have no such command', (t) => {
  t.deepEqual(zypper.operation('install-new-recommends', [])?.argv, [...Z, 'install-new-recommends']);
  t.deepEqual(zypper.solverCase!(zypper.operation('install-new-recommends', [])!, '/ignored')?.command.argv, [...Z, 'install-new-recommends', '--debug-solver']);
  t.is(dnf5.operation('install-new-recommends', []), undefined);
  t.is(rpm.operation('install-new-recommends', []), undefined);
});

test('rpm: local files and the install arch; refusals by message; no solver operations', (t) => {
  t.deepEqual(rpm.installFile('/mnt/f.rpm').argv, ['rpm', '-i', '/mnt/f.rpm']);
  t.is(rpm.operation('install', ['x']), undefined);
  t.is(rpm.detector, 'rpm');
  t.deepEqual(rpm.judge('operation', out(1, '\tpackage lglocal-1.0-1.x86_64_v3 is intended for a different architecture\n')), {
    kind: 'refused',
    reason: 'incompatible-arch',
    message: 'package lglocal-1.0-1.x86_64_v3 is intended for a different architecture',
  });
  t.is(rpm.judge('operation', out(1, 'error: open of /x.rpm failed: No such file or directory\n')).kind, 'error');
});

test('the rpm database listing becomes sorted NEVRAs, with the epoch only when it is not 0', (t) => {
  t.deepEqual(QUERY_INSTALLED.argv, ['rpm', '-qa', '--qf', '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}.%{ARCH}\\n']);
  t.deepEqual(parseInstalled('lgsub 0:1.0-1.x86_64_v3\nlgsub-libs 2:1.0-1.x86_64\ngpg-pubkey 0:1-1.(none)\n\n'), ['lgsub-1.0-1.x86_64_v3', 'lgsub-libs-2:1.0-1.x86_64']);
});

test("the solver's own test case: dnf5 --debugsolver into a directory; zypper --debug-solver after the command, before the packages", (t) => {
  const dnf5Case = dnf5.solverCase!({ argv: ['dnf5', '-y', 'install', 'x'] }, '/var/tmp/case');
  t.deepEqual(dnf5Case, { command: { argv: ['dnf5', '-y', 'install', 'x', '--debugsolver', '--setopt=debugdir=/var/tmp/case'] }, testcaseDir: '/var/tmp/case/packages' });
  const zypperCase = zypper.solverCase!(zypper.operation('install', ['x', 'y'])!, '/ignored');
  t.deepEqual(zypperCase?.command.argv, [...Z, 'install', '--debug-solver', 'x', 'y']);
  t.is(zypperCase?.testcaseDir, '/var/log/zypper.solverTestCase');
  t.is(rpm.solverCase, undefined);
});
