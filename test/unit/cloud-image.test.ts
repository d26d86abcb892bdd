// Distribution images, without booting one: partition tables and the firmware they call
// for, the QEMU command line, what the guest's inspection prints, which drivers an image
// lacks, $releasever from os-release, the NoCloud seed, and how --image and images: resolve.
import test from 'ava';
import { firmwareFor, parseImageFacts, parsePartitionTable, releaseverOf, type CloudImage } from '../../harness/image/cloud/inspect.js';
import { seedUserData } from '../../harness/image/cloud/support.js';
import { imageAccelChoice } from '../../harness/accel/image-backend.js';
import { validateConfig } from '../../harness/config/load.js';
import { driverUnavailableIn, imageInfoOf } from '../../harness/run/distribution.js';
import { UsageError } from '../../harness/util/errors.js';
import { resolveImage } from '../../harness/config/project.js';

function mbr(entries: { type: number; boot?: boolean }[], bootCode = true): Buffer {
  const head = Buffer.alloc(1 << 20);
  if (bootCode) head.write('\xeb\xfe', 0, 'latin1');
  entries.forEach((e, i) => {
    head[446 + i * 16] = e.boot ? 0x80 : 0;
    head[446 + i * 16 + 4] = e.type;
  });
  head.writeUInt16LE(0xaa55, 510);
  return head;
}

/** A GPT with the given partition type GUIDs (as written: mixed-endian), entries at LBA 2. */
function gpt(types: string[]): Buffer {
  const head = mbr([{ type: 0xee }], false);
  head.write('EFI PART', 512, 'latin1');
  head.writeBigUInt64LE(2n, 512 + 72);
  head.writeUInt32LE(128, 512 + 80);
  head.writeUInt32LE(128, 512 + 84);
  types.forEach((guid, i) => {
    const h = guid.replaceAll('-', '');
    const bytes = Buffer.from(h, 'hex');
    const onDisk = Buffer.concat([Buffer.from(bytes.subarray(0, 4)).reverse(), Buffer.from(bytes.subarray(4, 6)).reverse(), Buffer.from(bytes.subarray(6, 8)).reverse(), bytes.subarray(8)]);
    onDisk.copy(head, 1024 + i * 128);
  });
  return head;
}

test('partition tables: a dos disk with boot code boots through SeaBIOS; a GPT with a BIOS boot partition too; an ESP alone needs UEFI', (t) => {
  const dos = parsePartitionTable(mbr([{ type: 0x83, boot: true }]));
  t.deepEqual(dos, { kind: 'dos', partitions: ['1 dos:0x83 bootable'], hasEsp: false, biosBootable: true });
  t.is(firmwareFor(dos, 'x'), 'bios');
  // Fedora Cloud Base: BIOS boot, ESP, /boot, root.
  const fedora = parsePartitionTable(gpt(['21686148-6449-6e6f-744e-656564454649', 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b', '0fc63daf-8483-4772-8e79-3d69d8477de4']));
  t.is(fedora.kind, 'gpt');
  t.deepEqual(fedora.partitions, ['1 gpt:BIOS boot', '2 gpt:ESP', '3 gpt:0fc63daf-8483-4772-8e79-3d69d8477de4']);
  t.is(firmwareFor(fedora, 'x'), 'bios');
  const uefiOnly = parsePartitionTable(gpt(['c12a7328-f81f-11d2-ba4b-00a0c93ec93b', '0fc63daf-8483-4772-8e79-3d69d8477de4']));
  t.is(firmwareFor(uefiOnly, 'x'), 'uefi');
  const error = t.throws(() => firmwareFor(parsePartitionTable(Buffer.alloc(1 << 20)), '--image'), { instanceOf: UsageError });
  t.regex(error!.message, /^--image: no way to boot it: no partition table/);
});

const INSPECTED = `@os-release
NAME="Fedora Linux"
VERSION="45 (Cloud Edition)"
ID=fedora
VERSION_ID=45
PRETTY_NAME="Fedora Linux 45 (Cloud Edition)"
@kernel
6.19.3-300.fc45.x86_64
@glibc
ld.so (GNU libc) stable release version 2.43.
@rpm
RPM version 6.0.1
@dnf5
dnf5 version 5.3.0.0
@dnf
dnf5 version 5.3.0.0
@zypper
@qemu-ga
QEMU Guest Agent 10.1.0
@cloud-init
/usr/bin/cloud-init 25.2
`;

test("the guest's inspection: os-release, kernel, glibc, tools; $releasever from VERSION_ID, else the codename", (t) => {
  const facts = parseImageFacts(INSPECTED, 'qemu-guest-agent 10.1.0');
  t.is(facts.os, 'Fedora Linux 45 (Cloud Edition)');
  t.is(facts.kernel, '6.19.3-300.fc45.x86_64');
  t.is(facts.glibc, '2.43');
  t.is(facts.tools.zypper, null);
  t.is(facts.tools.dnf5, 'dnf5 version 5.3.0.0');
  t.is(releaseverOf(facts), '45');
  t.is(releaseverOf(parseImageFacts('@os-release\nID=debian\nVERSION_CODENAME=forky\n', 'x')), 'forky');
});

const image = { name: 'fedora45', digest: 'abc', path: '/i.qcow2' } as CloudImage;

test("a driver whose tool the image lacks is a skip that says so; the facts name the image's own versions", (t) => {
  const facts = parseImageFacts(INSPECTED, 'qga');
  const unavailable = driverUnavailableIn(image, facts);
  t.is(unavailable('dnf5'), undefined);
  t.is(unavailable('zypper'), 'image fedora45 (Fedora Linux 45 (Cloud Edition)) has no zypper: the zypper cells cannot run in it');
  const info = imageInfoOf(image, facts);
  t.deepEqual(info.distribution?.packageManagers, { dnf5: 'dnf5 5.3.0.0, rpm 6.0.1', zypper: 'zypper missing, rpm 6.0.1', rpm: 'rpm 6.0.1' });
  const dnf4 = parseImageFacts(INSPECTED.replace('@dnf5\ndnf5 version 5.3.0.0', '@dnf5').replace('@dnf\ndnf5 version 5.3.0.0', '@dnf\n4.21.1'), 'qga');
  t.regex(driverUnavailableIn(image, dnf4)('dnf5')!, /has no dnf5 \(it has 4\.21\.1: dnf 4/);
});

test('levels only Bochs provides are skips for an image, with why', (t) => {
  const choice = imageAccelChoice({ target: 'v4', accel: 'bochs', why: 'QEMU TCG has no AVX-512' }, image);
  t.is(choice.accel, null);
  t.regex(choice.accel === null ? choice.skipReason : '', /^v4 needs Bochs on this host .* levelgate boots image fedora45 under QEMU only/);
  t.deepEqual(imageAccelChoice({ target: 'v3', accel: 'tcg', why: 'x' }, image), { target: 'v3', accel: 'tcg', why: 'x' });
});

test("the NoCloud seed mounts levelgate's tools every boot and starts levelgate-agent only without qemu-guest-agent", (t) => {
  const data = seedUserData();
  t.true(data.startsWith('#cloud-config\n'));
  t.regex(data, /bootcmd:\n {2}- \[sh, -c, ".*mount -t ext4 -o ro,noload \/dev\/disk\/by-label\/levelgate \/usr\/lib\/levelgate.*qemu-ga.*exit 0.*systemd-run --unit=levelgate-agent/);
});

test('--image and images: pick an image by name or path; several configured need --image', (t) => {
  const project = (images?: Record<string, string>) => ({ configFile: '/p/levelgate.config.ts', config: images ? { images } : {}, scenarios: [], knownIssues: [], attach: [], builtinCatalog: true });
  t.is(resolveImage(undefined, project(), '/w'), undefined);
  t.deepEqual(resolveImage(undefined, project({ f45: 'img/f45.qcow2' }), '/w'), { name: 'f45', path: '/p/img/f45.qcow2', where: 'images.f45' });
  t.deepEqual(resolveImage('./x.qcow2', project(), '/w'), { path: '/w/x.qcow2', where: '--image' });
  t.throws(() => resolveImage(undefined, project({ a: 'a.qcow2', b: 'b.qcow2' }), '/w'), { message: /lists 2 images; pick one with --image NAME \(known: a, b\)/ });
  t.throws(() => resolveImage('nope', project({ a: 'a.qcow2' }), '/w'), { message: /neither an image of the configuration \(known: a\) nor a path/ });
  t.deepEqual(validateConfig({ images: { 'bad name': 3 } }, 'c.ts'), ["c.ts: images.bad name: must be the path of a qcow2 or raw image", "c.ts: images: 'bad name' is not a usable name (letters, digits, . _ -)"]);
});
