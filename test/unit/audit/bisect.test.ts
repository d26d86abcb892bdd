// audit --run bisect without a guest: which programs and libraries run with what, the
// order of levels and guests (one per level for all, nothing run again above the level
// it ran at, v4 only for what failed at v3), what kills a program one level below, and
// how the dynamic answer is reconciled with the static one.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import type { AccelChoice } from '../../../harness/accel/choose.js';
import { batches, parseLevels, parseNearMisses, planBisect, type BisectSubject } from '../../../harness/audit/dynamic/bisect-plan.js';
import { bisectResult, reconcile, withBisect } from '../../../harness/audit/dynamic/bisect-reconcile.js';
import { runBisect } from '../../../harness/audit-run/bisect-run.js';
import { bisectLine } from '../../../harness/audit/dynamic/bisect-text.js';
import { elfRole } from '../../../harness/audit/dynamic/elf-roles.js';
import type { LevelAttempt } from '../../../harness/audit/dynamic/types.js';
import { judgePackage } from '../../../harness/audit/findings.js';
import type { FileAudit, PackageAudit } from '../../../harness/audit/types.js';
import { levelIndex, type LevelName } from '../../../harness/levels/table.js';
import type { CpuTarget } from '../../../harness/levels/targets.js';
import type { CellGuests, CellSession, SessionRequest } from '../../../harness/run/session.js';
import { UsageError } from '../../../harness/util/errors.js';

/** Where runBisect keeps each attempt's evidence in these tests: one directory, removed after. */
let scratchRoot: string;
test.before(async () => {
  scratchRoot = await mkdtemp(path.join(os.tmpdir(), 'levelgate-test-bisect-'));
});
test.after.always(async () => {
  await rm(scratchRoot, { recursive: true, force: true });
});

const summary = (level: LevelName, feature: string, example: string) => ({
  level,
  levelSetBy: level === 'v1' ? [] : [feature],
  beyond: [],
  features: [{ feature, level, count: 1, examples: [{ address: '0x1136', offset: '0x1136', text: example }] }],
  discounted: [],
  instructions: 10,
});

function elf(path: string, level: LevelName, conditional?: LevelName): FileAudit {
  return {
    path,
    status: 'audited',
    bits: 64,
    codeBytes: 4096,
    all: summary(conditional ?? level, 'AVX', 'vzeroupper'),
    unconditional: { ...summary(level, level === 'v1' ? 'SSE2' : 'AVX', level === 'v1' ? 'movd xmm0,edi' : 'vzeroupper'), functions: [] },
    ...(conditional ? { conditional: { ...summary(conditional, 'SSSE3', 'pshufb xmm0,xmm1'), byRule: {}, functions: [] } } : {}),
    milliseconds: 1,
  };
}

const loose = (file: FileAudit): PackageAudit => judgePackage({ id: file.path, manager: 'none', input: file.path, inputKind: 'file', arch: 'x86_64', files: [file], otherFiles: 0 });
const rpm = (id: string, files: FileAudit[], programs: string[]): PackageAudit => judgePackage({ id, manager: 'rpm', input: `/r/${id}.rpm`, file: `/r/${id}.rpm`, inputKind: 'rpm', arch: 'x86_64', files, otherFiles: 0, programs });
const places = { guestPath: (f: string) => `/mnt/audit/0123/${f.split('/').at(-1)}`, loader: '/mnt/audit/9999/lg-load' };
const request = { levels: parseLevels(undefined), nearMisses: [], commands: new Map<string, string[][]>() };

test('plan: a loose program runs from the disk with --version, a loose library and an RPM\'s library through the loader, an RPM\'s program where it installs', (t) => {
  const roles = new Map([
    ['/home/u/bun', 'program' as const],
    ['/home/u/libx.so.1', 'library' as const],
  ]);
  const plan = planBisect([loose(elf('/home/u/bun', 'v3')), loose(elf('/home/u/libx.so.1', 'v1')), rpm('lz-1.0-1.x86_64', [elf('/usr/bin/lz', 'v1'), elf('/usr/lib64/liblz.so.1.2', 'v1')], ['/usr/bin/lz'])], request, roles, places);
  t.deepEqual(
    plan.subjects.map((s) => [s.path, s.kind, s.guestFile, s.commands, s.rpm?.name]),
    [
      ['/home/u/bun', 'program', '/mnt/audit/0123/bun', [['/mnt/audit/0123/bun', '--version']], undefined],
      ['/home/u/libx.so.1', 'library', '/mnt/audit/0123/libx.so.1', [['/mnt/audit/9999/lg-load', '/mnt/audit/0123/libx.so.1']], undefined],
      ['/usr/bin/lz', 'program', '/usr/bin/lz', [['/usr/bin/lz', '--version']], 'lz'],
      ['/usr/lib64/liblz.so.1.2', 'library', '/usr/lib64/liblz.so.1.2', [['/mnt/audit/9999/lg-load', '/usr/lib64/liblz.so.1.2']], 'lz'],
    ],
  );
  // --command NAME=ARGV by the program's name: its argv[0] becomes the path the guest sees.
  const withCommand = planBisect([loose(elf('/home/u/bun', 'v3'))], { ...request, commands: new Map([['bun', [['bun', '-e', '1+1']]]]) }, roles, places);
  t.deepEqual(withCommand.subjects[0]!.commands, [['/mnt/audit/0123/bun', '-e', '1+1']]);
  // A name that matches nothing is a usage error naming it and what is known.
  const error = t.throws(() => planBisect([loose(elf('/home/u/bun', 'v3'))], { ...request, commands: new Map([['bnu', [['bnu']]]]) }, roles, places), { instanceOf: UsageError });
  t.is(error?.message, "--command: 'bnu' names no program or package of the inputs; known: bun");
});

test('--levels: levels in any spelling, sorted; anything else is a usage error listing the levels', (t) => {
  t.deepEqual(parseLevels('v3,x86-64-v1'), ['v1', 'v3']);
  t.deepEqual(parseLevels(undefined), ['v1', 'v2', 'v3', 'v4']);
  t.throws(() => parseLevels('v5'), { instanceOf: UsageError, message: "--levels: 'v5' is not a level; known: v1, v2, v3, v4" });
});

test('elfRole: executables and PIEs are programs, a .so without an interpreter is a library, other ELF types are neither', (t) => {
  const head = (type: number, interp: boolean) => {
    const b = Buffer.alloc(256);
    b.writeUInt32BE(0x7f454c46, 0);
    b[4] = 2;
    b.writeUInt16LE(type, 16);
    b.writeBigUInt64LE(64n, 0x20);
    b.writeUInt16LE(56, 0x36);
    b.writeUInt16LE(1, 0x38);
    b.writeUInt32LE(interp ? 3 : 1, 64);
    return b;
  };
  t.is(elfRole(head(2, false), 'esbuild'), 'program');
  t.is(elfRole(head(3, true), 'bun'), 'program');
  t.is(elfRole(head(3, false), 'libz.so.1'), 'library');
  t.is(elfRole(head(3, false), 'static-pie'), 'program');
  t.is(elfRole(head(1, false), 'x.o'), undefined);
  t.is(elfRole(Buffer.from('#!/bin/sh\n'), 'script'), undefined);
});

test('batches: one guest for every subject, a second only for a second RPM of the same name', (t) => {
  const s = (path: string, file?: string, name?: string): BisectSubject => ({ packageId: file ?? path, path, guestFile: path, kind: 'program', commands: [[path]], ...(file ? { rpm: { file, name: name! } } : {}) });
  const groups = batches([s('/a'), s('/usr/bin/x', '/r/x-1.rpm', 'x'), s('/usr/bin/x2', '/r/x-1.rpm', 'x'), s('/usr/bin/x', '/r/x-2.rpm', 'x'), s('/usr/bin/y', '/r/y-1.rpm', 'y')]);
  t.deepEqual(
    groups.map((g) => g.map((x) => `${x.path}@${x.rpm?.file ?? '-'}`)),
    [['/a@-', '/usr/bin/x@/r/x-1.rpm', '/usr/bin/x2@/r/x-1.rpm', '/usr/bin/y@/r/y-1.rpm'], ['/usr/bin/x@/r/x-2.rpm']],
  );
});

/** Guests that run each subject as if it needed `needs[path]`: below it, a SIGILL with its trap line and the core handler's record. */
function fakeGuests(needs: Record<string, LevelName>, unavailable: string[] = []): { guests: CellGuests; opened: string[]; ran: string[]; accel: (target: CpuTarget) => Promise<AccelChoice> } {
  const opened: string[] = [];
  const ran: string[] = [];
  const guests: CellGuests = {
    open: async (request: SessionRequest): Promise<CellSession> => {
      opened.push(request.target.name);
      const level = request.target.level;
      const exec = async (argv: readonly string[]) => {
        const program = argv[0]!;
        const base = { command: argv.join(' '), timedOut: false, spawnFailed: false, durationMs: 3, consoleEvents: [] as { kind: string; line: string }[] };
        if (program === 'cat') {
          const last = ran.at(-1)!.split('@')[0]!;
          const record = ['pid 77', 'tid 77', 'signal 4', `exe ${last}`, 'ip 401136', 'bytes c5f877', 'maps', `00401000-00402000 r-xp 00001000 00:1f 12 ${last}`, ''].join('\n');
          return { ...base, exitCode: 0, signal: null, stdout: record, stderr: '' };
        }
        if (program === 'rpm' || program === 'dpkg-query' || program === 'pacman') return { ...base, exitCode: program === 'rpm' && argv[1] === '-i' ? 0 : 1, signal: null, stdout: '', stderr: '' };
        const subject = program.endsWith('lg-load') ? argv[1]! : program;
        ran.push(`${subject}@${request.target.name}`);
        const need = needs[subject] ?? 'v1';
        if (levelIndex(need) <= levelIndex(level)) return { ...base, exitCode: 0, signal: null, stdout: `${subject} 1.0\n`, stderr: '' };
        const name = subject.split('/').at(-1)!;
        return { ...base, exitCode: null, signal: 'SIGILL', stdout: '', stderr: '', consoleEvents: [{ kind: 'illegal-instruction', line: `traps: ${name}[77] trap invalid opcode ip:401136 sp:7ffc0 error:0 in ${name}[1136,401000+1000]` }] };
      };
      const guest = { level, fidelity: 'traps' as const, exec };
      return { proofs: [], consoleLogs: [], bootMs: 0, start: async () => guest, current: () => guest, bootAt: async () => guest, dispose: async () => {} } as unknown as CellSession;
    },
  };
  const accel = async (target: CpuTarget): Promise<AccelChoice> => (unavailable.includes(target.name) ? { accel: null, skipReason: `${target.name} needs a backend this host lacks` } : { accel: 'tcg', why: 'test' }) as AccelChoice;
  return { guests, opened, ran, accel };
}

const subject = (path: string, kind: 'program' | 'library' = 'program'): BisectSubject => ({ packageId: path, path, guestFile: path, kind, commands: [kind === 'library' ? ['/mnt/audit/9999/lg-load', path] : [path, '--version']] });

test('runBisect: one guest per level serves every subject; a subject that ran is not run again above; v4 only for what did not run at v3', async (t) => {
  const f = fakeGuests({ '/x/bun': 'v3', '/x/baseline': 'v2', '/x/esbuild': 'v1', '/x/libwide.so': 'v4' });
  const subjects = [subject('/x/bun'), subject('/x/baseline'), subject('/x/esbuild'), subject('/x/libwide.so', 'library')];
  const run = await runBisect(subjects, { guests: f.guests, accel: f.accel, guestPath: (p) => p, levels: parseLevels(undefined), nearMisses: [], scratch: path.join(scratchRoot, 'run-1') });
  t.deepEqual(f.opened, ['v1', 'v2', 'v3', 'v4'], 'one guest per level');
  t.deepEqual(run.restores, { v1: 1, v2: 1, v3: 1, v4: 1 });
  t.deepEqual(f.ran, ['/x/bun@v1', '/x/baseline@v1', '/x/esbuild@v1', '/x/libwide.so@v1', '/x/bun@v2', '/x/baseline@v2', '/x/libwide.so@v2', '/x/bun@v3', '/x/libwide.so@v3', '/x/libwide.so@v4']);
  t.deepEqual(
    run.attempts.map((a) => a.map((x) => `${x.target}:${x.outcome}`)),
    [['v1:sigill', 'v2:sigill', 'v3:ran'], ['v1:sigill', 'v2:ran'], ['v1:ran'], ['v1:sigill', 'v2:sigill', 'v3:sigill', 'v4:ran']],
  );
  // The trap's file comes from the process's mapping (the core handler's record), its instruction from the bytes there.
  const killer = bisectResult(subjects[0]!, run.attempts[0]!, [], elf('/x/bun', 'v3'), parseLevels(undefined));
  t.like(killer, { runsAt: 'v3', killedBelowBy: { level: 'v2', how: 'sigill', mnemonic: 'vzeroupper', extension: 'AVX', needs: 'v3' }, staticLevel: 'v3', reconciliation: { agreement: 'agree' } });
  t.is(bisectLine(killer), 'bisect /x/bun (program): runs at x86-64-v3; at x86-64-v2 killed by vzeroupper (AVX); static and dynamic agree: x86-64-v3');
});

test('runBisect: a level the host cannot provide is not run, with why; near misses of the lowest level run on request', async (t) => {
  const f = fakeGuests({ '/x/wide': 'v4' }, ['v4']);
  const run = await runBisect([subject('/x/wide')], { guests: f.guests, accel: f.accel, guestPath: (p) => p, levels: parseLevels(undefined), nearMisses: [], scratch: path.join(scratchRoot, 'run-2') });
  t.like(run.attempts[0]![3], { target: 'v4', outcome: 'not-run', problem: 'not run: v4 needs a backend this host lacks', infrastructure: true });
  t.deepEqual(f.opened, ['v1', 'v2', 'v3']);
  const near = fakeGuests({ '/x/bun': 'v3' });
  const withNear = await runBisect([subject('/x/bun')], { guests: near.guests, accel: near.accel, guestPath: (p) => p, levels: parseLevels('v2,v3'), nearMisses: parseNearMisses(true, undefined), scratch: path.join(scratchRoot, 'run-3') });
  t.deepEqual(near.opened.slice(0, 2), ['v2', 'v3']);
  t.true(near.opened.includes('v3-fma') && near.opened.includes('v3-noxsave'), near.opened.join(' '));
  t.false(near.opened.includes('v2-sse4_2'), 'only the near misses of its lowest level');
  t.true(withNear.nearMisses[0]!.every((a) => a.outcome === 'sigill'), 'a near miss of v3 is a v2 CPU here');
});

test('runBisect: only the near misses named run, each one guest, and only for subjects whose lowest level they belong to', async (t) => {
  t.deepEqual(parseNearMisses(false, undefined), []);
  t.is(parseNearMisses(true, undefined).length, 23);
  t.deepEqual(parseNearMisses(false, ['v3-fma,v2-popcnt', 'V3-AVX']).map((n) => n.name), ['v2-popcnt', 'v3-avx', 'v3-fma']);
  const f = fakeGuests({ '/x/bun': 'v3', '/x/old': 'v2' });
  const run = await runBisect([subject('/x/bun'), subject('/x/old')], { guests: f.guests, accel: f.accel, guestPath: (p) => p, levels: parseLevels('v2,v3'), nearMisses: parseNearMisses(false, ['v3-avx']), scratch: path.join(scratchRoot, 'run-4') });
  t.deepEqual(f.opened, ['v2', 'v3', 'v3-avx'], 'one guest per level, one for the near miss named');
  t.deepEqual(run.restores, { v2: 1, v3: 1, 'v3-avx': 1 });
  t.deepEqual(run.nearMisses[0]!.map((a) => [a.target, a.outcome]), [['v3-avx', 'sigill']]);
  t.deepEqual(run.nearMisses[1], [], 'a program running at v2 is not run at a near miss of v3');
});

const attempt = (level: LevelName, outcome: LevelAttempt['outcome'], trap?: Partial<LevelAttempt['traps'][number]>): LevelAttempt => ({
  target: level,
  level,
  outcome,
  programs: [{ argv: ['/usr/bin/p'], command: '/usr/bin/p --version', exitCode: outcome === 'ran' ? 0 : null, signal: outcome === 'sigill' ? 'SIGILL' : null, timedOut: false, spawnFailed: false, durationMs: 1, firstLine: '', sigills: [] }],
  traps: trap
    ? [{ kind: 'trap', file: '/usr/bin/p', offset: 0x1136, ip: 0x401136, package: 'p-1-1.x86_64', owners: ['p-1-1.x86_64'], located: 'mapping', bytes: '660f3800c1', instruction: 'pshufb xmm0,xmm1', features: ['SSSE3'], needs: 'v2', guestLevel: level, fidelity: 'traps', trapLine: 't', line: `p-1-1.x86_64: /usr/bin/p+0x1136: pshufb xmm0,xmm1 needs SSSE3 (x86-64-v2); this guest is x86-64-${level}`, command: '/usr/bin/p --version', ...trap } as LevelAttempt['traps'][number]]
    : [],
});

test('reconcile: agreement, static higher (code not reached), static lower (in another file, behind a credited check, in no file, not seen)', (t) => {
  const p = subject('/usr/bin/p');
  const levels = parseLevels('v1,v2,v3');
  t.is(reconcile(p, 'v2', attempt('v1', 'sigill', {}), elf('/usr/bin/p', 'v2'), levels).agreement, 'agree');
  const higher = reconcile(p, 'v1', undefined, elf('/usr/bin/p', 'v3'), levels);
  t.is(higher.agreement, 'static-higher');
  t.is(higher.text, 'static x86-64-v3 is higher than dynamic x86-64-v1: the static audit counts code needing x86-64-v3 outside any CPU check (e.g. 0x1136: vzeroupper), and this command ran at x86-64-v1 without reaching it; the dynamic level holds for what ran, the static one for every path');
  const credited = reconcile(p, 'v2', attempt('v1', 'sigill', {}), elf('/usr/bin/p', 'v1', 'v3'), levels);
  t.is(credited.agreement, 'static-lower');
  t.regex(credited.text, /^static x86-64-v1 is lower than dynamic x86-64-v2: the static audit counts code needing x86-64-v2 only after a CPU check: /);
  t.regex(reconcile(p, 'v2', attempt('v1', 'sigill', { file: '/usr/lib64/libc.so.6', package: 'glibc' }), elf('/usr/bin/p', 'v1'), levels).text, /the instruction is in \/usr\/lib64\/libc\.so\.6 \(glibc\), not in \/usr\/bin\/p: the static audit judged this file alone$/);
  t.regex(reconcile(p, 'v2', attempt('v1', 'sigill', { file: undefined, note: 'the ip lies in anonymous memory of /usr/bin/p' }), elf('/usr/bin/p', 'v1'), levels).text, /in no file \(the ip lies in anonymous memory of \/usr\/bin\/p\): JIT/);
  t.regex(reconcile(p, 'v2', attempt('v1', 'sigill', {}), elf('/usr/bin/p', 'v1'), levels).text, /did not see that instruction outside a check/);
  t.is(reconcile(p, undefined, undefined, elf('/usr/bin/p', 'v1'), levels).agreement, 'undecided');
  t.is(reconcile(p, 'v1', undefined, elf('/usr/bin/p', 'v1'), levels).agreement, 'agree');
});

test('withBisect: the run at the level the arch claims confirms a finding, or reveals one the static audit missed', (t) => {
  const subjects = [subject('/usr/bin/p')].map((s) => ({ ...s, packageId: 'p-1-1.x86_64' }));
  const levels = parseLevels('v1,v2');
  // Static says v1 (no finding); it dies at v1 and runs at v2: an unpredicted finding, the package fails.
  const pkg = rpm('p-1-1.x86_64', [elf('/usr/bin/p', 'v1')], ['/usr/bin/p']);
  t.is(pkg.verdict, 'pass');
  const results = [bisectResult(subjects[0]!, [attempt('v1', 'sigill', {}), attempt('v2', 'ran')], [], pkg.files[0], levels)];
  const after = withBisect(pkg, subjects, results);
  t.is(after.verdict, 'finding');
  t.like(after.findings[0], { path: '/usr/bin/p', confidence: 'unpredicted', needs: 'v2' });
  t.is(after.bisect?.[0]?.reconciliation.agreement, 'static-lower');
  // Broken on purpose: the same package whose program ran at v1 keeps its pass.
  const clean = withBisect(pkg, subjects, [bisectResult(subjects[0]!, [attempt('v1', 'ran')], [], pkg.files[0], levels)]);
  t.is(clean.verdict, 'pass');
});

const CLI = fileURLToPath(new URL('../../../runners/cli.js', import.meta.url));

test('levelgate audit: --levels and --near-misses without --run bisect, a bad level, a bad --run: usage errors (exit 2) naming the flag', async (t) => {
  const self = process.execPath;
  const levels = await execa('node', [CLI, 'audit', '--levels', 'v1', self], { reject: false });
  t.is(levels.exitCode, 2);
  t.regex(levels.stderr, /--levels, --near-misses and --near-miss go with --run bisect/);
  const near = await execa('node', [CLI, 'audit', '--run', 'bisect', '--near-miss', 'v3-avx,v3-sse9', self], { reject: false });
  t.is(near.exitCode, 2);
  t.regex(near.stderr, /--near-miss: 'v3-sse9' is not a near miss; known: v2-cmpxchg16b, .*v3-avx, /);
  const bad = await execa('node', [CLI, 'audit', '--run', 'bisect', '--levels', 'v9', self], { reject: false });
  t.is(bad.exitCode, 2);
  t.regex(bad.stderr, /--levels: 'v9' is not a level; known: v1, v2, v3, v4/);
  const run = await execa('node', [CLI, 'audit', '--run', 'bisekt', self], { reject: false });
  t.is(run.exitCode, 2);
  t.regex(run.stderr, /--run: 'bisekt' is not a level or a near miss; .*; or auto \(each at the level its arch claims\) or bisect/);
});
