// The runners end to end: Ctrl-C during a gate, a cell past its time limit, repro with
// live output, and repro --keep with a shell, each leaving nothing behind.
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import test from 'ava';
import type { RunResult } from '../../harness/results/types.js';
import { leftovers, withScratch } from './helpers.js';
import { JUNIT_SCHEMA } from '../fixtures/schemas.js';

const CLI = fileURLToPath(new URL('../../runners/cli.js', import.meta.url));

function cli(args: string[], dir: string): { child: ResultPromise; output: () => string } {
  const child = execa('node', [CLI, ...args], { env: { TMPDIR: dir }, reject: false, all: true, cwd: dir });
  let output = '';
  child.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function waitFor(output: () => string, pattern: RegExp, seconds = 120): Promise<void> {
  for (let i = 0; i < seconds * 10 && !pattern.test(output()); i++) await sleep(100);
}

const reports = (dir: string) => ['--json', path.join(dir, 'r/gate.json'), '--junit', path.join(dir, 'r/junit.xml'), '--html', path.join(dir, 'r/report.html'), '--evidence', path.join(dir, 'r/ev')];

test.serial('Ctrl-C during a gate stops every guest and writes partial reports marked interrupted', async (t) => {
  await withScratch('gate-int', async (dir) => {
    const { child, output } = cli(['gate', '--scenario', 'glibc-hwcaps', '--level', 'v1', '--level', 'v2', '--workers', '1', ...reports(dir)], dir);
    // The longest cells go first (plan/order.ts): wait for whichever cell passes first.
    await waitFor(output, /^PASS  glibc-hwcaps\[v[12],\w+\]/m);
    await sleep(1500);
    child.kill('SIGINT');
    const result = await child;
    t.is(result.exitCode, 130, output());
    const run = JSON.parse(await readFile(path.join(dir, 'r/gate.json'), 'utf8')) as RunResult;
    t.true(run.interrupted);
    t.is(run.cells.length, 6);
    t.true(run.cells.some((c) => c.verdict === 'pass'));
    t.true(run.cells.some((c) => c.reason === 'not run: the run was interrupted'));
    t.true(run.cells.every((c) => c.verdict === 'pass' || c.verdict === 'skip'));
    t.regex(output(), /\(interrupted: partial results\)/);
    const lint = await execa('xmllint', ['--noout', '--schema', JUNIT_SCHEMA, path.join(dir, 'r/junit.xml')], { reject: false, all: true });
    t.is(lint.exitCode, 0, lint.all);
    const left = await leftovers(dir);
    t.deepEqual(left.processes, []);
    t.deepEqual(left.files.sort(), ['r']);
  });
});

test.serial('a cell past its time limit ends as an error with its logs, and the run goes on', async (t) => {
  await withScratch('gate-timeout', async (dir) => {
    const { child, output } = cli(['gate', '--grep', '/^(noarch-transition\\[v1,zypper|glibc-hwcaps\\[v1,rpm)/', '--workers', '1', '--cell-timeout', '3', '--retries', '0', ...reports(dir)], dir);
    const result = await child;
    t.is(result.exitCode, 3, output());
    t.regex(output(), /^ERROR noarch-transition\[v1,zypper\] .* cell did not finish within 3\.00? s; it was at step \d \(.+\)\n {6}rerun: \S*levelgate repro noarch-transition --level v1 --driver zypper$/m);
    // The run goes on: the next cell gets its own verdict (on a loaded host it may time out too).
    t.regex(output(), /^(PASS |ERROR) glibc-hwcaps\[v1,rpm\]/m);
    const run = JSON.parse(await readFile(path.join(dir, 'r/gate.json'), 'utf8')) as RunResult;
    const hung = run.cells.find((c) => c.id === 'noarch-transition[v1,zypper]')!;
    t.is(hung.verdict, 'error');
    t.true(hung.timings.totalMs < 20_000);
    // The snapshot's boot console (the proof's evidence) and the cell's own, restored guest's console.
    t.is(hung.consoleLogs.length, 2, hung.consoleLogs.join(', '));
    t.regex(hung.consoleLogs[1]!, /console-2-v1\.log$/);
    t.deepEqual((await leftovers(dir)).processes, []);
  });
});

test.serial('repro runs one cell with live output, the QEMU command line and the rerun command', async (t) => {
  await withScratch('repro', async (dir) => {
    const { child, output } = cli(['repro', 'glibc-hwcaps', '--level', 'v2', '--driver', 'rpm'], dir);
    const result = await child;
    t.is(result.exitCode, 0, output());
    t.regex(output(), /^QEMU: qemu-system-x86_64 -name levelgate-v2-\w+,debug-threads=on .*-cpu qemu64,/m);
    t.regex(output(), /^\$ rpm -i \/mnt\/fixtures\/glibc-hwcaps\/files\/lghwcaps-1\.0-1\.x86_64\.rpm$/m);
    t.regex(output(), /^ {2}ok {3}loader picks for lghwcaps: expected x86-64-v2, got x86-64-v2$/m);
    t.regex(output(), /^rerun: \S*levelgate repro glibc-hwcaps --level v2 --driver rpm$/m);
  });
});

test.serial('repro --keep leaves the guest up with a shell until Ctrl-C, then nothing is left', async (t) => {
  await withScratch('keep', async (dir) => {
    const { child, output } = cli(['repro', 'detection', '--level', 'v2', '--driver', 'rpm', '--keep'], dir);
    await waitFor(output, /UNIX-CONNECT:(\S+)/);
    const socketPath = /UNIX-CONNECT:(\S+)/.exec(output())?.[1];
    t.truthy(socketPath, output());
    const socket = net.createConnection(socketPath!);
    let shell = '';
    socket.on('data', (chunk: Buffer) => (shell += chunk.toString()));
    await sleep(1000);
    socket.write('echo "shell $((6 * 7)) at $(rpm --eval %{_arch})"\n');
    for (let i = 0; i < 100 && !shell.includes('shell 42 at'); i++) await sleep(100);
    t.regex(shell, /shell 42 at x86_64/);
    socket.destroy();
    t.is((await leftovers(dir)).processes.length, 1);
    child.kill('SIGINT');
    const result = await child;
    t.is(result.exitCode, 0, output());
    t.deepEqual((await leftovers(dir)).processes, []);
  });
});
