import test from 'ava';
import { explainBytes, hexBytes, offsetFromLoadSegment } from '../../../harness/forensics/explain.js';
import { investigateTrap, type GuestExec } from '../../../harness/forensics/investigate.js';
import { nevraOf } from '../../../harness/forensics/package-owner.js';
import { forensicsLine, ownedBy } from '../../../harness/model/forensics-record.js';
import { mappingAt, parseSigillRecord } from '../../../harness/forensics/sigill-record.js';
import { parseNevra } from '../../../harness/packages/available.js';
import { parseTrapLine, type TrapLine } from '../../../harness/forensics/trap-line.js';

const NEW_FORMAT = 'traps: canary[146] trap invalid opcode ip:401c16 sp:7fff6915a9e0 error:0 in canary[1c16,401000+7a000]';
const OLD_FORMAT = '[    2.512345] traps: lgmove[119] trap invalid opcode ip:401136 sp:7fff7a963800 error:0 in lgmove[401000+7a000]';
const VPADDD_YMM = 'c5 fd fe c1';

test('parseTrapLine: the kernel line with the file offset (7.2) and without it (older kernels)', (t) => {
  t.deepEqual(parseTrapLine(NEW_FORMAT), {
    kind: 'trap',
    comm: 'canary',
    pid: 146,
    ip: 0x401c16,
    sp: 0x7fff6915a9e0,
    error: 0,
    file: 'canary',
    offset: 0x1c16,
    vmaStart: 0x401000,
    vmaSize: 0x7a000,
    line: NEW_FORMAT,
  });
  const old = parseTrapLine(OLD_FORMAT) as TrapLine;
  t.like(old, { kind: 'trap', comm: 'lgmove', pid: 119, ip: 0x401136, file: 'lgmove', offset: undefined, vmaStart: 0x401000, vmaSize: 0x7a000 });
  t.like(parseTrapLine('traps: libscale.so[9] trap invalid opcode ip:7f12a0001010 sp:7ffc1000 error:0 in libscale.so.1[7f12a0001000+1000]'), { comm: 'libscale.so', file: 'libscale.so.1' });
  t.is(parseTrapLine('[    3.0] random kernel chatter'), undefined);
});

test("parseTrapLine: glibc's loader refusing a binary built for a higher level", (t) => {
  t.deepEqual(parseTrapLine('Fatal glibc error: CPU does not support x86-64-v3'), { kind: 'glibc-refusal', level: 'v3', line: 'Fatal glibc error: CPU does not support x86-64-v3' });
});

test('explainBytes: the instruction, its features by psABI name and the lowest level that has them', (t) => {
  t.like(explainBytes(VPADDD_YMM, 0x401136), { text: 'vpaddd ymm0,ymm0,ymm1', features: ['AVX2'], needs: 'v3', length: 4 });
  t.like(explainBytes('62 f1 7d 48 fe c1'), { text: 'vpaddd zmm0,zmm0,zmm1', features: ['AVX512F'], needs: 'v4' });
  t.like(explainBytes('62 f1 7d 28 fe c1'), { text: 'vpaddd ymm0,ymm0,ymm1', needs: 'v4' });
  t.like(explainBytes('f3 0f b8 c1'), { text: 'popcnt eax,ecx', features: ['POPCNT'], needs: 'v2' });
  t.like(explainBytes('66 0f 38 dc c1'), { text: 'aesenc xmm0,xmm1', features: ['AES'], needs: null });
  t.like(explainBytes('9f'), { text: 'lahf', features: ['LAHF-SAHF'], needs: 'v2' });
  t.regex(explainBytes('0f 0b')!.note!, /ud2 is undefined on every CPU/);
  t.is(explainBytes('c5'), undefined);
  t.deepEqual([...hexBytes(' c5 fd\n fe c1 ')], [0xc5, 0xfd, 0xfe, 0xc1]);
});

test('forensicsLine: exactly the one-line shape, with the fidelity when it is not traps', (t) => {
  const base = {
    kind: 'trap' as const,
    file: '/usr/bin/lgmove',
    offset: 0x1136,
    ip: 0x401136,
    package: 'lgmove-1.0-1.x86_64_v3',
    owners: ['lgmove-1.0-1.x86_64_v3'],
    located: 'mapping' as const,
    bytes: 'c5fdfec1',
    instruction: 'vpaddd ymm0,ymm0,ymm1',
    features: ['AVX2'],
    needs: 'v3' as const,
    guestLevel: 'v2' as const,
    fidelity: 'traps' as const,
    trapLine: OLD_FORMAT,
  };
  t.is(forensicsLine(base), 'lgmove-1.0-1.x86_64_v3: /usr/bin/lgmove+0x1136: vpaddd ymm0,ymm0,ymm1 needs AVX2 (x86-64-v3); this guest is x86-64-v2');
  t.is(forensicsLine({ ...base, fidelity: 'masks-only' }), 'lgmove-1.0-1.x86_64_v3: /usr/bin/lgmove+0x1136: vpaddd ymm0,ymm0,ymm1 needs AVX2 (x86-64-v3); this guest is x86-64-v2 (fidelity masks-only)');
  t.is(
    forensicsLine({ ...base, package: '(no package)', instruction: 'vpaddd zmm0,zmm0,zmm1', features: ['AVX512F', 'AVX512VL'], needs: 'v4', guestLevel: 'v3' }),
    '(no package): /usr/bin/lgmove+0x1136: vpaddd zmm0,zmm0,zmm1 needs AVX512F, AVX512VL (x86-64-v4); this guest is x86-64-v3',
  );
  t.is(forensicsLine({ ...base, instruction: 'aesenc xmm0,xmm1', features: ['AES'], needs: null }), 'lgmove-1.0-1.x86_64_v3: /usr/bin/lgmove+0x1136: aesenc xmm0,xmm1 needs AES (not in any psABI level); this guest is x86-64-v2');
});

/** A guest with files (path → bytes), rpm owners (path → NEVRAs), core handler records (tid → text) and dpkg owners, answering od, cat, rpm and dpkg-query as the real ones do. */
function fakeGuest(
  files: Record<string, Uint8Array>,
  owners: Record<string, string | string[]>,
  records: Record<number, string> = {},
  dpkg: Record<string, string> = {},
): { exec: GuestExec; calls: string[][] } {
  const calls: string[][] = [];
  const exec: GuestExec = async (argv) => {
    calls.push([...argv]);
    const [cmd, ...args] = argv;
    if (cmd === 'od') {
      const file = files[args.at(-1)!];
      if (!file) return { exitCode: 1, stdout: '', stderr: `od: ${args.at(-1)}: No such file or directory` };
      const skip = Number(args[args.indexOf('-j') + 1]);
      const count = Number(args[args.indexOf('-N') + 1]);
      const bytes = [...file.subarray(skip, skip + count)].map((b) => b.toString(16).padStart(2, '0'));
      const lines = [];
      for (let i = 0; i < bytes.length; i += 16) lines.push(` ${bytes.slice(i, i + 16).join(' ')}`);
      return { exitCode: 0, stdout: `${lines.join('\n')}\n`, stderr: '' };
    }
    if (cmd === 'rpm' && args[0] === '-qa') return { exitCode: 0, stdout: `${[...Object.keys(files), '/usr/share/doc/x'].join('\n')}\n`, stderr: '' };
    if (cmd === 'rpm' && args[0] === '-qf') {
      const owner = owners[args.at(-1)!];
      // The query format NAME EPOCHNUM VERSION-RELEASE.ARCH, a line per owner.
      const lines = [owner ?? []].flat().map((n) => parseNevra(n)!).map((p) => `${p.name} ${p.epoch} ${p.version}-${p.release}.${p.arch}\n`);
      return lines.length ? { exitCode: 0, stdout: lines.join(''), stderr: '' } : { exitCode: 1, stdout: `file ${args.at(-1)} is not owned by any package\n`, stderr: '' };
    }
    if (cmd === 'cat') {
      const tid = Number(args[0]!.split('/').at(-1));
      return records[tid] !== undefined ? { exitCode: 0, stdout: records[tid]!, stderr: '' } : { exitCode: 1, stdout: '', stderr: `cat: ${args[0]}: No such file or directory` };
    }
    if (cmd === 'dpkg-query') {
      const owner = dpkg[args.at(-1)!];
      return owner ? { exitCode: 0, stdout: `${owner}: ${args.at(-1)}\n`, stderr: '' } : { exitCode: 1, stdout: '', stderr: `dpkg-query: no path found matching pattern ${args.at(-1)}` };
    }
    return { exitCode: 127, stdout: '', stderr: `${cmd}: not found` };
  };
  return { exec, calls };
}

/** A small ELF64 whose executable PT_LOAD maps file offset 0x1000 at 0x401000, holding `code` at `at`. */
function elfWith(code: Uint8Array, at: number): Uint8Array {
  const b = Buffer.alloc(0x3000);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2;
  b[5] = 1;
  b.writeBigUInt64LE(64n, 0x20);
  b.writeUInt16LE(56, 0x36);
  b.writeUInt16LE(2, 0x38);
  const ph = (i: number, flags: number, offset: number, vaddr: number) => {
    const o = 64 + i * 56;
    b.writeUInt32LE(1, o);
    b.writeUInt32LE(flags, o + 4);
    b.writeBigUInt64LE(BigInt(offset), o + 8);
    b.writeBigUInt64LE(BigInt(vaddr), o + 16);
  };
  ph(0, 4, 0, 0x400000);
  ph(1, 5, 0x1000, 0x401000);
  b.set(code, at);
  return b;
}

test('investigateTrap: the program the harness ran, the bytes at the offset, its owner — the full record and line', async (t) => {
  const guest = fakeGuest({ '/usr/bin/canary': elfWith(hexBytes(VPADDD_YMM), 0x1c16) }, { '/usr/bin/canary': 'canary-1.0-1.x86_64_v3' });
  const record = await investigateTrap(parseTrapLine(NEW_FORMAT)!, { exec: guest.exec, knownPath: '/usr/bin/canary', guestLevel: 'v2', fidelity: 'traps' });
  t.like(record, { kind: 'trap', file: '/usr/bin/canary', offset: 0x1c16, ip: 0x401c16, package: 'canary-1.0-1.x86_64_v3', instruction: 'vpaddd ymm0,ymm0,ymm1', features: ['AVX2'], needs: 'v3', guestLevel: 'v2', fidelity: 'traps' });
  t.is(record.line, 'canary-1.0-1.x86_64_v3: /usr/bin/canary+0x1c16: vpaddd ymm0,ymm0,ymm1 needs AVX2 (x86-64-v3); this guest is x86-64-v2');
  t.deepEqual(guest.calls[0], ['cat', '/run/levelgate/sigill/146'], 'the process\'s own record is asked first');
  t.deepEqual(guest.calls[1], ['od', '-An', '-tx1', '-v', '-j', String(0x1c16), '-N', '16', '/usr/bin/canary']);
  t.is(record.kind === 'trap' && record.located, 'program');
  t.false(guest.calls.some((c) => c[1] === '-qa'), 'no search when the known program is the one');
});

test('investigateTrap: an old kernel line (no offset) is placed through the ELF load segment; the file is found by basename', async (t) => {
  const guest = fakeGuest({ '/usr/bin/lgmove': elfWith(hexBytes(VPADDD_YMM), 0x1136) }, { '/usr/bin/lgmove': 'lgmove-1.0-1.x86_64_v3' });
  const record = await investigateTrap(parseTrapLine(OLD_FORMAT)!, { exec: guest.exec, knownPath: '/usr/bin/sh', guestLevel: 'v2', fidelity: 'masks-only' });
  t.is(record.line, 'lgmove-1.0-1.x86_64_v3: /usr/bin/lgmove+0x1136: vpaddd ymm0,ymm0,ymm1 needs AVX2 (x86-64-v3); this guest is x86-64-v2 (fidelity masks-only)');
  t.is(offsetFromLoadSegment(elfWith(new Uint8Array(), 0), 0x401136, 0x401000), 0x1136);
});

test('investigateTrap: without a mapping record, several files with that name are "ambiguous", every one named, none chosen', async (t) => {
  // This pinned the old guess ("the copy whose bytes need more than the guest wins"): issue 17 item 9 removes it.
  const baseline = elfWith(hexBytes('90 90 90 90'), 0x1136);
  const v3 = elfWith(hexBytes(VPADDD_YMM), 0x1136);
  const guest = fakeGuest({ '/usr/lib64/lgmove': baseline, '/usr/lib64/glibc-hwcaps/x86-64-v3/lgmove': v3 }, {});
  const record = await investigateTrap(parseTrapLine(NEW_FORMAT.replace(/canary/g, 'lgmove').replace('1c16,', '1136,').replace('ip:401c16', 'ip:401136'))!, { exec: guest.exec, guestLevel: 'v2', fidelity: 'traps' });
  t.like(record, { kind: 'trap', file: undefined, located: 'ambiguous', instruction: undefined });
  t.is(
    record.line,
    '(no package): ip 0x401136: ambiguous: the process left no mapping record (/run/levelgate/sigill/146) and 2 installed files are named lgmove: /usr/lib64/lgmove, /usr/lib64/glibc-hwcaps/x86-64-v3/lgmove; this guest is x86-64-v2',
  );
});

/** What `levelgate-agent --core` writes for a program at /tmp/c that a shell started. */
const TMP_C_RECORD = [
  'pid 146',
  'tid 146',
  'signal 4',
  'exe /tmp/c',
  'ip 401c16',
  `bytes ${VPADDD_YMM.replace(/ /g, '')}90909090`,
  'maps',
  '00400000-00401000 r--p 00000000 00:1f 12 /tmp/c',
  '00401000-0047b000 r-xp 00001000 00:1f 12 /tmp/c',
  '7ffd1000-7ffd3000 rw-p 00000000 00:00 0 [stack]',
  '',
].join('\n');

test('investigateTrap: the dying process\'s own mapping names the file (a program at /tmp/c that no package has), whatever its basename', async (t) => {
  const guest = fakeGuest({ '/usr/bin/c': elfWith(hexBytes('90 90 90 90'), 0x1c16) }, { '/usr/bin/c': 'c-1.0-1.x86_64' }, { 146: TMP_C_RECORD });
  const line = NEW_FORMAT.replace(/canary/g, 'c');
  const record = await investigateTrap(parseTrapLine(line)!, { exec: guest.exec, knownPath: '/bin/sh', guestLevel: 'v2', fidelity: 'traps' });
  t.like(record, { kind: 'trap', file: '/tmp/c', offset: 0x1c16, located: 'mapping', exe: '/tmp/c', owners: [], package: '(no package)', instruction: 'vpaddd ymm0,ymm0,ymm1', needs: 'v3' });
  t.is(record.line, '(no package): /tmp/c+0x1c16: vpaddd ymm0,ymm0,ymm1 needs AVX2 (x86-64-v3); this guest is x86-64-v2');
  t.false(guest.calls.some((c) => c[0] === 'rpm' && c[1] === '-qa'), 'never looked up by name');
  t.false(guest.calls.some((c) => c[0] === 'od'), 'the bytes come from the process\'s memory');
  // A record a reused thread id left (another file at the ip) is not this trap's: the name lookup is used instead.
  const stale = await investigateTrap(parseTrapLine(line)!, { exec: fakeGuest({}, {}, { 146: TMP_C_RECORD.replace(/\/tmp\/c/g, '/usr/bin/other') }).exec, guestLevel: 'v2', fidelity: 'traps' });
  t.like(stale, { located: 'none', file: undefined });
  // Broken on purpose: without the record, the same trap is found by name, and the /usr/bin/c of a package is blamed.
  const byName = await investigateTrap(parseTrapLine(line)!, { exec: fakeGuest({ '/usr/bin/c': elfWith(hexBytes('90 90 90 90'), 0x1c16) }, { '/usr/bin/c': 'c-1.0-1.x86_64' }).exec, guestLevel: 'v2', fidelity: 'traps' });
  t.like(byName, { file: '/usr/bin/c', located: 'name', package: 'c-1.0-1.x86_64' });
});

test('investigateTrap: an ip in no file (JIT) is said so, with the instruction read from the process\'s memory', async (t) => {
  const jit = TMP_C_RECORD.replace('ip 401c16', 'ip 7f0000001000').concat('7f0000000000-7f0000100000 rwxp 00000000 00:00 0 \n');
  const guest = fakeGuest({}, {}, { 146: jit });
  const record = await investigateTrap(parseTrapLine('traps: c[146] trap invalid opcode ip:7f0000001000 sp:7fff6915a9e0 error:0')!, { exec: guest.exec, guestLevel: 'v2', fidelity: 'traps' });
  t.like(record, { kind: 'trap', file: undefined, located: 'mapping', instruction: 'vpaddd ymm0,ymm0,ymm1', needs: 'v3' });
  t.regex(record.line, /^\(no package\): ip 0x7f0000001000: vpaddd ymm0,ymm0,ymm1 needs AVX2 \(x86-64-v3\)/);
  t.regex(record.kind === 'trap' ? (record.note ?? '') : '', /anonymous memory of \/tmp\/c, in no file: code made at run time \(JIT\)/);
});

test('investigateTrap: every owner of a path is named and the record says "ambiguous"; an epoch stays in the NEVRA; dpkg owns what rpm does not', async (t) => {
  const file = { '/tmp/c': elfWith(hexBytes(VPADDD_YMM), 0x1c16) };
  const line = parseTrapLine(NEW_FORMAT.replace(/canary/g, 'c'))!;
  const two = await investigateTrap(line, { exec: fakeGuest(file, { '/tmp/c': ['c-1.0-1.x86_64', 'c-compat-2:1.0-1.x86_64'] }, { 146: TMP_C_RECORD }).exec, guestLevel: 'v2', fidelity: 'traps' });
  t.deepEqual(two.owners, ['c-1.0-1.x86_64', 'c-compat-2:1.0-1.x86_64']);
  t.is(two.package, 'ambiguous (2 packages own it: c-1.0-1.x86_64, c-compat-2:1.0-1.x86_64)');
  t.true(ownedBy(two, 'c-compat-2:1.0-1.x86_64'), 'an epoch\'d NEVRA confirms');
  t.false(ownedBy(two, 'c-compat-1.0-1.x86_64'));
  const deb = await investigateTrap(line, { exec: fakeGuest(file, {}, { 146: TMP_C_RECORD }, { '/tmp/c': 'cutils' }).exec, guestLevel: 'v2', fidelity: 'traps' });
  t.deepEqual(deb.owners, ['cutils (dpkg)']);
  t.is(nevraOf('bash 0 5.2-1.x86_64'), 'bash-5.2-1.x86_64');
  t.is(nevraOf('bash 3 5.2-1.x86_64'), 'bash-3:5.2-1.x86_64');
});

test('parseSigillRecord: fields, the ip, the bytes and the maps, with " (deleted)" taken apart; not a record: undefined', (t) => {
  const r = parseSigillRecord(TMP_C_RECORD.replace('12 /tmp/c\n0040', '12 /tmp/c (deleted)\n0040'))!;
  t.like(r, { pid: 146, tid: 146, exe: '/tmp/c', ip: 0x401c16 });
  t.is(r.maps.length, 3);
  t.like(r.maps[0], { start: 0x400000, end: 0x401000, perms: 'r--p', offset: 0, path: '/tmp/c', deleted: true });
  t.like(mappingAt(r, 0x401c16), { mapping: { path: '/tmp/c', offset: 0x1000 }, fileOffset: 0x1c16 });
  t.is(mappingAt(r, 0x10), undefined);
  t.is(parseSigillRecord('cat: no such file'), undefined);
});

test('investigateTrap: nothing installed by that name, and a glibc refusal', async (t) => {
  const guest = fakeGuest({}, {});
  const lost = await investigateTrap(parseTrapLine(NEW_FORMAT)!, { exec: guest.exec, guestLevel: 'v1', fidelity: 'traps' });
  t.is(lost.line, '(no package): ip 0x401c16: the process left no mapping record (/run/levelgate/sigill/146) and no installed file is named canary (rpm -qa lists none); this guest is x86-64-v1');
  const refusal = await investigateTrap(parseTrapLine('Fatal glibc error: CPU does not support x86-64-v3')!, {
    exec: fakeGuest({}, { '/usr/bin/lgwide': 'lgwide-1.0-1.x86_64_v3' }).exec,
    knownPath: '/usr/bin/lgwide',
    guestLevel: 'v2',
    fidelity: 'traps',
  });
  t.is(refusal.line, 'lgwide-1.0-1.x86_64_v3: /usr/bin/lgwide: glibc refused to load it: CPU does not support x86-64-v3; this guest is x86-64-v2');
});
