// Retries are for the emulator only (issue 17, item 2): a package manager's or program's
// crash, an exit outside its driver's contract or a hang is the cell's verdict (fail),
// never retried; an emulator error (guest death, boot timeout, lost agent) is retried,
// the cell counted flaky when a retry settles it, every attempt's evidence kept, and
// --fail-on-flaky makes such a run exit 1.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { dnf5 } from '../../harness/drivers/dnf5.js';
import { rpm } from '../../harness/drivers/rpm.js';
import { zypper } from '../../harness/drivers/zypper.js';
import { GuestConsole } from '../../harness/guest/console.js';
import { buildHtml } from '../../harness/report/html.js';
import { buildJUnit } from '../../harness/report/junit.js';
import { cellLine, closingLines } from '../../harness/report/terminal.js';
import { exitCodeOf } from '../../harness/results/summary.js';
import type { CellResult } from '../../harness/results/types.js';
import { attemptEvidenceDir } from '../../harness/run/cell.js';
import { runWithRetries } from '../../harness/run/gate-run.js';
import { mergeRuns } from '../../runners/merge.js';
import { cellResult, runResult } from '../fixtures/results.js';
import { JUNIT_SCHEMA } from '../fixtures/schemas.js';

const out = (exitCode: number | null, stderr = '', signal: string | null = null) => ({ exitCode, signal, stdout: '', stderr });

test("a package manager's crash or an exit outside its contract is the tool's failure ('broken'), not the harness's", (t) => {
  t.deepEqual(dnf5.judge('operation', out(null, '', 'SIGSEGV')), { kind: 'broken', message: 'dnf5 was killed by SIGSEGV' });
  t.deepEqual(dnf5.judge('operation', out(134, 'terminate called after throwing an instance of std::bad_alloc\n')), {
    kind: 'broken',
    message: 'dnf5 exit status 134, outside its contract (0, 1 or 2): terminate called after throwing an instance of std::bad_alloc',
  });
  t.is(zypper.judge('operation', out(null, '', 'SIGABRT')).kind, 'broken');
  // zypper 1 is ZYPPER_EXIT_ERR_BUG ("unexpected situation"): its own bug.
  t.is(zypper.judge('operation', out(1, 'Unexpected exception.\n')).kind, 'broken');
  t.is(rpm.judge('operation', out(null, '', 'SIGSEGV')).kind, 'broken');
  t.is(rpm.judge('operation', out(255)).kind, 'broken');
  // The tool's own queries crash or fail: its failure too.
  t.is(dnf5.judge('query', out(null, '', 'SIGSEGV')).kind, 'broken');
  t.is(dnf5.judge('list-updates', out(1, 'Error: x\n')).kind, 'broken');
  // What the harness set up did not hold: still an error (not retried either).
  t.is(zypper.judge('operation', out(106)).kind, 'error');
  t.is(dnf5.judge('configure', out(1, 'tee: /etc/yum.repos.d/levelgate.repo: Read-only file system\n')).kind, 'error');
  t.is(dnf5.judge('operation', out(1, 'Failed to access RPM "/mnt/x.rpm": No such file or directory\n')).kind, 'error');
});

const limits = (retries = 1) => ({ cellTimeoutMs: 10_000, retries, signal: new AbortController().signal });
const emulatorDeath = (attempt: number) =>
  cellResult('error', { reason: `guest lg-${attempt} QEMU was killed by SIGKILL`, errorSource: 'emulator', consoleLogs: [`/ev/cell/${attempt > 1 ? `attempt-${attempt}/` : ''}console-1-v3.log`] });

test('only an emulator error is retried; a harness error or a failure is the verdict of the first attempt', async (t) => {
  let calls = 0;
  const harness = await runWithRetries(async () => (calls++, cellResult('error', { reason: 'repository main did not load', errorSource: 'harness' })), limits(3));
  t.is(calls, 1);
  t.is(harness.verdict, 'error');
  t.false(harness.flaky);
  calls = 0;
  const failed = await runWithRetries(async () => (calls++, cellResult('fail', { reason: 'step 2 (install lgx): `dnf5 ... install lgx` was killed by SIGSEGV' })), limits(3));
  t.is(calls, 1);
  t.is(failed.verdict, 'fail');
});

test('an emulator death settled by a retry: flaky, both attempts and their evidence kept', async (t) => {
  const results = [emulatorDeath(1), cellResult('pass', { consoleLogs: ['/ev/cell/attempt-2/console-1-v3.log'] })];
  const seen: number[] = [];
  const result = await runWithRetries(async (_signal, _at, attempt) => (seen.push(attempt), results[attempt - 1]!), limits());
  t.deepEqual(seen, [1, 2]);
  t.is(result.verdict, 'pass');
  t.true(result.flaky);
  t.is(result.attempts, 2);
  t.deepEqual(result.earlierAttempts, [{ attempt: 1, verdict: 'error', reason: 'guest lg-1 QEMU was killed by SIGKILL', consoleLogs: ['/ev/cell/console-1-v3.log'], attachments: [] }]);
  t.deepEqual(result.consoleLogs, ['/ev/cell/attempt-2/console-1-v3.log']);
  t.regex(cellLine(result), /\(flaky: 2 attempts; attempt 1: guest lg-1 QEMU was killed by SIGKILL\)/);
});

test("each attempt's evidence has a directory of its own; a console log is appended to, never truncated", async (t) => {
  t.is(attemptEvidenceDir('/r/evidence/x_v3_dnf5_', 1), '/r/evidence/x_v3_dnf5_');
  t.is(attemptEvidenceDir('/r/evidence/x_v3_dnf5_', 2), '/r/evidence/x_v3_dnf5_/attempt-2');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-console-'));
  try {
    const log = path.join(dir, 'console-1-v3.log');
    const first = new GuestConsole(log);
    first.push(Buffer.from('attempt one: Kernel panic\n'));
    await first.close();
    const second = new GuestConsole(log);
    second.push(Buffer.from('attempt two booted\n'));
    await second.close();
    t.is(await readFile(log, 'utf8'), 'attempt one: Kernel panic\nattempt two booted\n');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const flakyPass = (): CellResult => ({ ...cellResult('pass', { attempts: 2, flaky: true }), earlierAttempts: [{ attempt: 1, verdict: 'error', reason: 'guest lg-1 QEMU was killed by SIGKILL', consoleLogs: ['/ev/c/console-1-v3.log'], attachments: [] }] });

test('a flaky cell is counted in the summary (terminal, JSON, HTML), and --fail-on-flaky makes the run exit 1', async (t) => {
  const run = runResult([flakyPass(), cellResult('pass', { id: 'other[v3,zypper]' })]);
  t.is(run.flaky, 1);
  t.regex(closingLines(run)[0]!, /^2 cells in 60\.0 s: 2 passed, 0 failed, 0 xfail, 0 xpass, 0 skipped, 0 errors, 1 flaky \(settled by a retry after an emulator error\)$/);
  t.true(closingLines(run).includes('flaky: fresh-install-mixed[v3,zypper] — attempt 1: guest lg-1 QEMU was killed by SIGKILL'));
  t.is(exitCodeOf(run), 0);
  t.is(exitCodeOf(run, { failOnFlaky: true }), 1);
  t.is(exitCodeOf(runResult([cellResult('pass')]), { failOnFlaky: true }), 0);
  t.regex(await buildHtml(run), /1 flaky/);
  // A merge counts the flaky cells of every input, old gate.json files without the count included.
  const { flaky: _, ...old } = runResult([flakyPass()]);
  t.is(mergeRuns([{ file: 'a.json', run: old as never }, { file: 'b.json', run: runResult([cellResult('pass', { id: 'b[v2,dnf5]' })]) }]).flaky, 1);
});

test('JUnit: a flaky cell carries a <flakyError> per earlier attempt (valid against junit-10.xsd) and its suite a flaky count', async (t) => {
  const xml = buildJUnit(runResult([flakyPass()]));
  t.regex(xml, /<flakyError message="attempt 1: guest lg-1 QEMU was killed by SIGKILL" type="emulator">/);
  t.regex(xml, /\[\[ATTACHMENT\|\/ev\/c\/console-1-v3\.log\]\]/);
  t.regex(xml, /<property name="flaky" value="1"\/>/);
  t.regex(xml, /\[\[PROPERTY\|flaky=attempt 1: error: guest lg-1 QEMU was killed by SIGKILL\]\]/);
  // An error on every attempt: the earlier ones are <rerunError>s of the <error>.
  const failedAgain = { ...cellResult('error', { attempts: 2 }), earlierAttempts: flakyPass().earlierAttempts! };
  t.regex(buildJUnit(runResult([failedAgain])), /<rerunError message="attempt 1: guest lg-1 QEMU was killed by SIGKILL" type="emulator">/);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-junit-'));
  try {
    for (const [name, body] of [['flaky.xml', xml], ['rerun.xml', buildJUnit(runResult([failedAgain]))]] as const) {
      const file = path.join(dir, name);
      await import('node:fs/promises').then((fs) => fs.writeFile(file, body));
      const checked = await execa('xmllint', ['--noout', '--schema', JUNIT_SCHEMA, file], { reject: false, all: true });
      t.is(checked.exitCode, 0, checked.all);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
