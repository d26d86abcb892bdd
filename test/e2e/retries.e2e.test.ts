// Retries are for the emulator only, in real guests (issue 17, item 2): a package manager
// that crashes, or that hangs once, fails its cell on the first attempt (a retry would
// have passed: it is not run); an emulator killed mid-cell is retried, the cell counted
// flaky with both attempts' evidence kept, and --fail-on-flaky makes the gate exit 1.
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import test from 'ava';
import type { PackageDriver } from '../../harness/drivers/driver.js';
import { DRIVERS } from '../../harness/drivers/index.js';
import { defineScenario, installFile } from '../../harness/index.js';
import { planCells } from '../../harness/plan/plan.js';
import type { RunResult } from '../../harness/results/types.js';
import { runCell } from '../../harness/run/cell.js';
import { runWithRetries } from '../../harness/run/gate-run.js';
import { prepareRun, type Prepared } from '../../harness/run/prepare.js';
import { JUNIT_SCHEMA } from '../fixtures/schemas.js';
import { leftovers, removeScratch, scratchDir, withScratch } from './helpers.js';

const CLI = fileURLToPath(new URL('../../runners/cli.js', import.meta.url));

const scenario = defineScenario({
  id: 'test-retries',
  title: 'A local install whose package manager misbehaves once',
  tags: ['test'],
  drivers: ['rpm'],
  repos: { files: [{ name: 'lgonce', version: '1.0', arch: 'x86_64' }] },
  steps: [installFile('files', 'lgonce-1.0-1.x86_64').expect({ installed: { lgonce: '1.0-1.x86_64' }, runs: ['lgonce'] })],
});

let scratch: string;
let prepared: Prepared;
test.before(async () => {
  scratch = await scratchDir('retries');
  prepared = await prepareRun([scenario], 'auto');
});
test.after.always(async () => {
  await removeScratch(scratch);
});

/** rpm whose first local install is `first` (a real command in the guest); later ones are rpm's own. */
function misbehavingOnce(first: readonly string[]): { driver: PackageDriver; calls: () => number } {
  let calls = 0;
  const rpm = DRIVERS.rpm;
  return { driver: { ...rpm, installFile: (file) => (++calls === 1 ? { argv: first } : rpm.installFile(file)) }, calls: () => calls };
}

/** The cell through the gate's own retry loop, one retry allowed. */
async function runOnce(driver: PackageDriver, label: string) {
  const cell = planCells([scenario], { targets: ['v2'], drivers: ['rpm'] })[0]!;
  return runWithRetries(
    (signal, _at, attempt) =>
      runCell(cell, {
        ...prepared,
        drivers: { ...DRIVERS, rpm: driver },
        knownIssues: [],
        evidenceDir: path.join(scratch, label),
        today: '2026-12-01',
        signal,
        attempt,
        placement: prepared.placement.with({ given: { commandMs: 20_000 } }),
      }),
    { cellTimeoutMs: 300_000, retries: 1, signal: new AbortController().signal },
  );
}

test.serial('a package manager that crashes fails the cell on the first attempt; the retry that would pass is not run', async (t) => {
  const once = misbehavingOnce(['sh', '-c', 'echo "rpm: Segmentation fault" >&2; kill -SEGV $$']);
  const result = await runOnce(once.driver, 'crash');
  t.is(result.verdict, 'fail', result.reason);
  t.is(result.attempts, 1);
  t.false(result.flaky);
  t.is(once.calls(), 1);
  t.regex(result.reason, /^step 1 \(install local file lgonce-1\.0-1\.x86_64\.rpm\): `sh -c .*` failed: rpm was killed by SIGSEGV$/);
  const command = result.steps[0]!.commands.find((c) => c.role === 'action')!;
  t.is(command.signal, 'SIGSEGV');
  t.regex(command.stderr, /Segmentation fault/);
});

test.serial('a package manager that hangs once (the guest still answering) fails the cell, not retried', async (t) => {
  const once = misbehavingOnce(['sleep', '600']);
  const result = await runOnce(once.driver, 'hang');
  t.is(result.verdict, 'fail', result.reason);
  t.is(result.attempts, 1);
  t.is(once.calls(), 1);
  t.regex(result.reason, /: `sleep 600` hung: it did not finish within 20 s and was killed \(the guest still answered\)$/);
  t.deepEqual(result.steps[0]!.checks.map((c) => c.deviation), ['hung']);
});

test.serial('the same cell passes when nothing misbehaves (the two above fail for the reason they name)', async (t) => {
  const result = await runOnce(DRIVERS.rpm, 'ok');
  t.is(result.verdict, 'pass', result.reason);
});

test.serial('QEMU killed mid-cell: retried, flaky, both attempts\' evidence kept; --fail-on-flaky exits 1', async (t) => {
  await withScratch('flaky', async (dir) => {
    const out = (f: string) => path.join(dir, 'r', f);
    const child = execa('node', [CLI, 'gate', '--scenario', 'glibc-hwcaps', '--level', 'v2', '--driver', 'zypper', '--workers', '1', '--retries', '1', '--fail-on-flaky',
      '--json', out('gate.json'), '--junit', out('junit.xml'), '--html', out('report.html'), '--evidence', out('ev')], { env: { TMPDIR: dir }, reject: false, all: true, cwd: dir });
    let output = '';
    child.all!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Past preparation (probes, snapshots): the cell's first guest QEMU (its temp dir is under ours), killed once it has run a moment
    // (1.5 s: past the restore, which a kill would turn into a snapshot rebuild, and inside zypper's cell, about 4 s idle; rpm's
    // cell, 1.5 s idle since cells ask only their own tools' detectors, could pass before the kill).
    for (let i = 0; i < 6000 && !/^levelgate: 1 cells/m.test(output); i++) await sleep(100);
    let killed: string | undefined;
    for (let i = 0; i < 1200 && !killed; i++) {
      const ps = await execa('pgrep', ['-f', `qemu-system.*${dir}`], { reject: false });
      const pid = ps.stdout.split('\n').find(Boolean);
      if (pid) {
        await sleep(1500);
        await execa('kill', ['-KILL', pid], { reject: false });
        killed = pid;
      } else await sleep(100);
    }
    t.truthy(killed, 'no QEMU of the cell appeared');
    const result = await child;
    t.is(result.exitCode, 1, result.all);
    t.regex(result.all ?? '', /1 flaky \(settled by a retry after an emulator error\)/);
    t.regex(result.all ?? '', /cell was flaky \(--fail-on-flaky\): exit 1/);
    const run = JSON.parse(await readFile(out('gate.json'), 'utf8')) as RunResult;
    t.is(run.flaky, 1);
    const cell = run.cells[0]!;
    t.is(cell.verdict, 'pass', cell.reason);
    t.true(cell.flaky);
    t.is(cell.attempts, 2);
    const first = cell.earlierAttempts![0]!;
    t.is(first.verdict, 'error');
    t.regex(first.reason, /killed by SIGKILL/);
    // Both attempts' consoles are on disk, apart: the first is not overwritten by the second.
    const own = (logs: readonly string[]) => logs.filter((l) => l.startsWith(out('ev')));
    t.true(own(first.consoleLogs).length > 0, first.consoleLogs.join(', '));
    t.true(own(cell.consoleLogs).every((l) => l.includes(`${path.sep}attempt-2${path.sep}`)), cell.consoleLogs.join(', '));
    for (const log of [...own(first.consoleLogs), ...own(cell.consoleLogs)]) await t.notThrowsAsync(access(log), log);
    t.notDeepEqual(own(first.consoleLogs), own(cell.consoleLogs));
    const junit = await readFile(out('junit.xml'), 'utf8');
    t.regex(junit, /<flakyError message="attempt 1: [^"]*killed by SIGKILL[^"]*" type="emulator">/);
    const lint = await execa('xmllint', ['--noout', '--schema', JUNIT_SCHEMA, out('junit.xml')], { reject: false, all: true });
    t.is(lint.exitCode, 0, lint.all);
    t.deepEqual((await leftovers(dir)).processes, []);
  });
});
