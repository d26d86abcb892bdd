import test from 'ava';
import { parseInstalled } from '../../harness/drivers/driver.js';
import { dnf5, dnf5RepoFile } from '../../harness/drivers/dnf5.js';
import { rpm } from '../../harness/drivers/rpm.js';
import { zypper } from '../../harness/drivers/zypper.js';

test('dnf5: repositories as files written through tee, operations by name', (t) => {
  const commands = dnf5.useRepos([{ id: 's-base', path: '/mnt/fixtures/s/base' }]);
  t.deepEqual(commands[2], { argv: ['tee', '/etc/yum.repos.d/s-base.repo'], input: dnf5RepoFile({ id: 's-base', path: '/mnt/fixtures/s/base' }) });
  t.regex(dnf5RepoFile({ id: 's-base', path: '/mnt/x' }), /^\[s-base\]\nname=s-base\nbaseurl=file:\/\/\/mnt\/x\ngpgcheck=0\n/);
  t.deepEqual(dnf5.operation('distro-sync', ['lgsync'])?.argv, ['dnf5', '-y', '--releasever=sid', '--setopt=install_weak_deps=False', 'distro-sync', 'lgsync']);
  t.deepEqual(dnf5.listUpdates()?.okStatuses, [100]);
});

test('dnf5: check-upgrade and --dump-variables are parsed', (t) => {
  t.deepEqual(dnf5.parseUpdates('Updating and loading repositories:\nRepositories loaded.\nlgstale.x86_64    1.1-1    s-updates\n'), ['lgstale']);
  t.is(dnf5.parseDetectedArch('arch = x86_64\nbasearch = x86_64\nreleasever = sid\n'), 'x86_64');
});

test('zypper: dist-upgrade for distro-sync, --oldpackage for downgrade', (t) => {
  t.deepEqual(zypper.operation('distro-sync', ['x'])?.argv, ['zypper', '--non-interactive', '--no-gpg-checks', 'dist-upgrade']);
  t.deepEqual(zypper.operation('downgrade', ['lgnewvar-1.0'])?.argv.slice(-3), ['install', '--oldpackage', 'lgnewvar-1.0']);
  t.deepEqual(zypper.useRepos([{ id: 'r', path: '/mnt/r' }])[1]?.argv.slice(-4), ['addrepo', '--no-gpgcheck', 'file:///mnt/r', 'r']);
});

test('zypper: list-updates table and the detected architecture from its log', (t) => {
  const table = 'S | Repository | Name    | Current Version | Available Version | Arch\n--+------------+---------+-----------------+-------------------+-------\nv | s-updates  | lgstale | 1.0-1           | 1.1-1             | x86_64\n';
  t.deepEqual(zypper.parseUpdates(table), ['lgstale']);
  t.deepEqual(zypper.parseUpdates('No updates found.\n'), []);
  t.is(zypper.parseDetectedArch("... Arch.cc(_autoDetectSystemArchitecture):134 CPU has 'x86_64': architecture upgraded to 'x86_64_v3'\n"), 'x86_64_v3');
  t.is(zypper.parseDetectedArch("... Arch.cc(_autoDetectSystemArchitecture):121 Uname architecture is 'x86_64'\n"), 'x86_64');
});

test('rpm: local files and the install arch; no solver operations', (t) => {
  t.deepEqual(rpm.installFile('/mnt/f.rpm').argv, ['rpm', '-i', '/mnt/f.rpm']);
  t.is(rpm.operation('install', ['x']), undefined);
  t.is(rpm.parseDetectedArch('build arch            : x86_64\ninstall arch          : x86_64_v2\n'), 'x86_64_v2');
});

test('the rpm database listing becomes sorted NEVRAs', (t) => {
  t.deepEqual(parseInstalled('lgsub 1.0-1.x86_64_v3\nlgsub-libs 1.0-1.x86_64\ngpg-pubkey 1-1.(none)\n\n'), ['lgsub-1.0-1.x86_64_v3', 'lgsub-libs-1.0-1.x86_64']);
});
