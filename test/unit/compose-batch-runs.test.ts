// The compose audit's batched runs: one guest command runs every program and library of
// many names (the real batch script, run by the host's sh and coreutils timeout in a fake
// guest), its framed answer is read back per command, and each name is judged on its own
// results: as the per-item path judges it, a failure run again alone only for forensics,
// the whole batch failing falling back to the per-item path.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { batchCommand, BATCH_OUTPUT_BYTES, parseBatch, statusOf, trapsOf, type BatchItem } from '../../harness/compose/batch-runs.js';
import { LDSO } from '../../harness/levels/loader.js';
import { runChecks, runChecksOfBatch, type BatchName, type GuestRunner } from '../../harness/compose/run-checks.js';
import type { CellExecOptions, ExecResult } from '../../harness/model/guest.js';
import type { AvailablePackage } from '../../harness/packages/available.js';
import { quoteCommand } from '../../harness/util/quote.js';

const trap = (comm: string, file: string): string => `traps: ${comm}[4242] trap invalid opcode ip:401c16 sp:7fff6915a9e0 error:0 in ${file}[1c16,401000+7a000]`;

/** A guest of host processes: programs are scripts in a scratch directory, the loader a script that lists and "loads" (runs) a copy; traps are lines they append to a console file. */
async function fakeGuest(options: { batchThrows?: boolean } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'lg-batch-'));
  const consoleFile = path.join(dir, 'console');
  await writeFile(consoleFile, '');
  const script = async (file: string, body: string) => {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `#!/bin/sh\n${body}\n`);
    await chmod(file, 0o755);
    return file;
  };
  const bin = (name: string) => path.join(dir, 'bin', name);
  const sigill = (comm: string, file: string) => `echo '${trap(comm, file)}' >> ${consoleFile}; kill -ILL $$`;
  await script(bin('good'), 'echo "pkg 1.0-1 x86_64"');
  await script(bin('plain'), 'echo "plain tool, no identity"');
  await script(bin('wrong'), 'echo "pkg 0.9-1 x86_64"');
  await script(bin('crash'), sigill('crash', 'crash'));
  await script(bin('flaky'), `if [ -e ${dir}/flaked ]; then echo "pkg 1.0-1 x86_64"; else touch ${dir}/flaked; ${sigill('flaky', 'flaky')}; fi`);
  await script(bin('hang'), 'exec sleep 30');
  await script(bin('fails'), 'echo "no config" >&2; exit 3');
  await script(bin('noisy'), `head -c ${BATCH_OUTPUT_BYTES * 2} /dev/zero | tr '\\0' x; echo; echo "pkg 1.0-1 x86_64" >&2`);
  const lib = path.join(dir, 'lib');
  await script(path.join(lib, 'libgood.so.1'), 'exit 0');
  await script(path.join(lib, 'libbad.so.1'), sigill('ld-linux-x86-64', 'libbad.so.1'));
  await script(path.join(lib, 'glibc-hwcaps/x86-64-v4/libhigh.so.1'), sigill('ld-linux-x86-64', 'libhigh.so.1'));
  const ldso = await script(
    path.join(dir, 'ld.so'),
    [
      'if [ "$1" = --library-path ]; then',
      '  for c in "$2/glibc-hwcaps/x86-64-v4/$5" "$2/$5"; do if [ -e "$c" ]; then printf "\\t%s => %s (0x00007f0000000000)\\n" "$5" "$c"; break; fi; done',
      '  printf "\\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0000001000)\\n"; exit 0',
      'fi',
      'exec sh "$2"',
    ].join('\n'),
  );
  const calls: string[][] = [];
  const ours = (a: string | undefined) => a === 'sh' || a === LDSO || a?.startsWith(dir);
  const exec = async (argv: readonly string[], opts: CellExecOptions): Promise<ExecResult> => {
    calls.push([...argv]);
    const command = quoteCommand(argv);
    if (argv[0] === 'sh' && options.batchThrows) throw new Error('guest g1 did not answer within 65 s while running: sh -c …');
    if (!ours(argv[0])) return { command, exitCode: 127, signal: null, timedOut: false, spawnFailed: true, stdout: '', stderr: `${argv[0]}: not in this fake guest`, durationMs: 1, consoleEvents: [] };
    const seen = (await readFile(consoleFile, 'utf8')).split('\n').filter(Boolean).length;
    const real = argv.map((a) => (a === LDSO ? ldso : a));
    const r = await execa(real[0]!, real.slice(1), { reject: false, timeout: opts.timeoutMs, stdin: 'ignore' });
    const lines = (await readFile(consoleFile, 'utf8')).split('\n').filter(Boolean).slice(seen);
    return { command, exitCode: r.exitCode ?? null, signal: r.signal ?? null, timedOut: r.timedOut, spawnFailed: false, stdout: r.stdout, stderr: r.stderr, durationMs: r.durationMs, consoleEvents: lines.map((line) => ({ kind: 'illegal-instruction', line })) };
  };
  const runner: GuestRunner = { guest: { level: 'v3', fidelity: 'traps', exec }, programMs: 1000, commandMs: 5000 };
  const names = (list: Record<string, { programs?: string[]; libraries?: string[] }>): BatchName[] =>
    Object.entries(list).map(([name, s]) => ({
      name,
      installed: { name, version: '1.0', release: '1', arch: 'x86_64' } as AvailablePackage,
      ships: { programs: (s.programs ?? []).map(bin), libraries: (s.libraries ?? []).map((soname) => ({ soname, dir: lib })) },
    }));
  return { dir, runner, calls, bin, lib, names, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Each check of each name as "name subject status deviation". */
const verdicts = (judged: Map<string, { checks: { subject: string; status: string; deviation?: string }[] }>) =>
  [...judged].flatMap(([name, { checks }]) => checks.map((c) => `${name} ${path.basename(c.subject)} ${c.status}${c.deviation ? ` ${c.deviation}` : ''}`));

const EVERY = { pkg: { programs: ['good', 'plain', 'wrong', 'crash', 'hang', 'fails', 'noisy'], libraries: ['libgood.so.1', 'libbad.so.1', 'libhigh.so.1', 'libnone.so.1'] } };

test('one guest command runs every program and library of a batch; each is judged as the per-item path judges it', async (t) => {
  const g = await fakeGuest();
  try {
    const batched = await runChecksOfBatch(g.runner, g.names(EVERY));
    const batchCalls = g.calls.filter((c) => c[0] === 'sh');
    t.is(batchCalls.length, 1);
    t.deepEqual(verdicts(batched), [
      'pkg good pass',
      'pkg plain pass',
      'pkg wrong fail output',
      'pkg crash fail sigill',
      'pkg hang fail hung',
      'pkg fails fail exit',
      'pkg noisy pass',
      'pkg libgood.so.1 pass',
      'pkg libbad.so.1 fail sigill',
      'pkg libhigh.so.1 fail above-level',
      'pkg libnone.so.1 fail missing',
    ]);
    // Only the failures ran again alone (for forensics): not the passes, not the above-level copy (decided by the list).
    const alone = g.calls.filter((c) => c[0] !== 'sh' && (c[0]!.startsWith(g.dir) || c[0] === LDSO)).map((c) => c.map((a) => path.basename(a)).join(' '));
    t.deepEqual(alone, [
      'wrong --version',
      'crash --version',
      'hang --version',
      'fails --version',
      'ld-linux-x86-64.so.2 --preload libbad.so.1 true',
      'ld-linux-x86-64.so.2 --library-path lib --list --preload libnone.so.1 true',
    ]);
    // The per-item path, on a fresh guest, judges every check the same.
    const h = await fakeGuest();
    try {
      const [one] = h.names(EVERY);
      const perItem = await runChecks(h.runner, one!.name, one!.installed, one!.ships);
      t.deepEqual(verdicts(new Map([['pkg', perItem]])), verdicts(batched));
    } finally {
      await h.cleanup();
    }
    const { checks, commands } = batched.get('pkg')!;
    // Each command keeps its own evidence: its own argv, ending, output, a share of the batch's time.
    const crash = commands.find((c) => c.command === `${g.bin('crash')} --version` && c.signal === 'SIGILL' && !c.forensics)!;
    t.truthy(crash);
    t.deepEqual(crash.consoleEvents, [`illegal-instruction: ${trap('crash', 'crash')}`]);
    t.true(crash.durationMs > 0 && crash.durationMs < batchCalls.length * 60_000);
    // The run alone's record carries the forensics, and the check says them.
    const crashAlone = commands.filter((c) => c.command === `${g.bin('crash')} --version`)[1]!;
    t.true((crashAlone.forensics ?? []).length > 0);
    t.true(checks.find((c) => c.subject === g.bin('crash'))!.actual.startsWith(`killed by SIGILL — ${crashAlone.forensics![0]}`));
    t.is(checks.find((c) => c.subject === g.bin('fails'))!.actual, 'exit 3: no config');
    // A library above the CPU: the load the batch ran anyway is kept as evidence, the verdict is the list's.
    t.true(commands.some((c) => c.command.endsWith(`--preload ${g.lib}/glibc-hwcaps/x86-64-v4/libhigh.so.1 /bin/true`) && c.signal === 'SIGILL'));
    // Output beyond the bound is cut and says so.
    const noisy = commands.find((c) => c.command === `${g.bin('noisy')} --version`)!;
    t.true(noisy.stdout.endsWith(`[cut at ${BATCH_OUTPUT_BYTES} bytes]`));
    t.is(noisy.stderr, 'pkg 1.0-1 x86_64\n');
  } finally {
    await g.cleanup();
  }
});

test('a command that failed in the batch keeps its failure when it passes alone, and the check says so', async (t) => {
  const g = await fakeGuest();
  try {
    const judged = await runChecksOfBatch(g.runner, g.names({ pkg: { programs: ['flaky', 'good'] } }));
    const flaky = judged.get('pkg')!.checks[0]!;
    t.is(flaky.status, 'fail');
    t.is(flaky.deviation, 'sigill');
    t.is(flaky.actual, 'killed by SIGILL; run again alone: exit 0, printed "pkg 1.0-1 x86_64"');
    t.is(judged.get('pkg')!.checks[1]!.status, 'pass');
  } finally {
    await g.cleanup();
  }
});

test('names are judged on their own commands only, and names without anything to run are absent', async (t) => {
  const g = await fakeGuest();
  try {
    const judged = await runChecksOfBatch(g.runner, g.names({ a: { programs: ['crash'] }, b: { programs: ['good'], libraries: ['libgood.so.1'] }, c: {} }));
    t.is(g.calls.filter((c) => c[0] === 'sh').length, 1);
    t.deepEqual(verdicts(judged), ['a crash fail sigill', 'b good pass', 'b libgood.so.1 pass']);
    t.deepEqual(judged.get('c'), { checks: [], commands: [] });
    t.true(judged.get('b')!.commands.every((c) => !c.command.includes('crash')));
  } finally {
    await g.cleanup();
  }
});

test('a batch that fails as a whole falls back to each command alone, every verdict kept', async (t) => {
  const g = await fakeGuest({ batchThrows: true });
  try {
    const judged = await runChecksOfBatch(g.runner, g.names(EVERY));
    t.is(g.calls.filter((c) => c[0] === 'sh').length, 1);
    t.is(verdicts(judged).length, 11);
    t.deepEqual(verdicts(judged).slice(0, 4), ['pkg good pass', 'pkg plain pass', 'pkg wrong fail output', 'pkg crash fail sigill']);
    // Each program ran alone once (no second run: the per-item path is the real run).
    t.is(g.calls.filter((c) => c[0] === g.bin('crash')).length, 1);
  } finally {
    await g.cleanup();
  }
});

test('exit statuses read as the shell reports them: 124 a timeout, 128+N a signal (timeout re-raises it), else the exit', (t) => {
  t.deepEqual(statusOf(0), { exitCode: 0, signal: null, timedOut: false });
  t.deepEqual(statusOf(3), { exitCode: 3, signal: null, timedOut: false });
  t.deepEqual(statusOf(124), { exitCode: null, signal: null, timedOut: true });
  t.deepEqual(statusOf(132), { exitCode: null, signal: 'SIGILL', timedOut: false });
  t.deepEqual(statusOf(137), { exitCode: null, signal: 'SIGKILL', timedOut: false });
});

test("the host's sh and timeout report a SIGILL-killed program as 132 (the fact statusOf rests on)", async (t) => {
  const r = await execa('sh', ['-c', 'timeout 5 sh -c \'kill -ILL $$\'; echo $?'], { reject: false });
  t.is(r.stdout.trim(), '132');
});

test('the parser refuses an answer without its end marker, with a stranger marker, or with an item missing', (t) => {
  const items: BatchItem[] = [{ kind: 'program', program: '/usr/bin/a' }, { kind: 'program', program: '/usr/bin/b' }];
  const command = batchCommand(items, 1000, 0);
  const frame = (m: string, i: number, status: number, out: string) => `${m} ${i} run ${status} -\n${m} o\n${out}\n${m} e\n\n`;
  const answer = (stdout: string): ExecResult => ({ command: 'sh', exitCode: 0, signal: null, timedOut: false, spawnFailed: false, stdout, stderr: '', durationMs: 100, consoleEvents: [] });
  const whole = `${frame(command.marker, 0, 0, 'a 1')}${frame(command.marker, 1, 132, '')}${command.marker} end\n`;
  const runs = parseBatch(items, command, answer(whole))!;
  t.deepEqual(runs.map((r) => [r.result.command, r.result.exitCode, r.result.signal, r.result.stdout, r.result.durationMs]), [
    ['/usr/bin/a --version', 0, null, 'a 1', 50],
    ['/usr/bin/b --version', null, 'SIGILL', '', 50],
  ]);
  t.is(parseBatch(items, command, answer(whole.replace(`${command.marker} end\n`, ''))), undefined);
  t.is(parseBatch(items, command, answer(`${frame(command.marker, 0, 0, 'a 1')}${command.marker} end\n`)), undefined);
  // Output after the end marker: not this script's answer.
  t.is(parseBatch(items, command, answer(`${whole}${command.marker} 2 run 0 -\n`)), undefined);
  t.is(parseBatch(items, command, answer(whole.replaceAll(command.marker, 'lg-batch-0000'))), undefined);
  t.is(parseBatch(items, command, { ...answer(whole), exitCode: null, timedOut: true }), undefined);
  // A program that prints what looks like a frame, without the marker, stays its own output.
  const forged = `${frame(command.marker, 0, 0, 'lg-batch-1 1 run 0 -\nlg-batch-1 o')}${frame(command.marker, 1, 0, 'b')}${command.marker} end\n`;
  t.is(parseBatch(items, command, answer(forged))![0]!.result.stdout, 'lg-batch-1 1 run 0 -\nlg-batch-1 o');
  t.not(batchCommand(items, 1000, 0).marker, command.marker);
});

test("trap lines go to the command they name: a program by its name (15 characters), a load by the library's file", (t) => {
  const traps = [trap('averyveryverylo', 'averyveryverylongname'), trap('ld-linux-x86-64', 'libx.so.1'), trap('other', 'other')];
  t.deepEqual(trapsOf({ step: 'run', argv: ['/usr/bin/averyveryverylongname', '--version'] }, traps), [traps[0]]);
  t.deepEqual(trapsOf({ step: 'load', argv: [LDSO, '--preload', '/usr/lib64/libx.so.1', '/bin/true'] }, traps), [traps[1]]);
  t.deepEqual(trapsOf({ step: 'list', argv: [LDSO, '--list'] }, traps), []);
});
