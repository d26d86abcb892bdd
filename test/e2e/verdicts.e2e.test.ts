// The verdicts can fail: a wrong variant, a stale upgrade and a level mismatch are each
// caught in real guests with the real package managers; a known issue that passes is
// reported as xpass. Also the gate's command line and its JSON records.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import test from 'ava';
import { QemuGuest } from '../../harness/guest/qemu-guest.js';
import { qemuCpuArgument } from '../../harness/levels/qemu-cpu.js';
import { planCells } from '../../harness/plan/plan.js';
import { runCell, type CellEnvironment } from '../../harness/run/cell.js';
import { prepareRun } from '../../harness/run/prepare.js';
import type { KnownIssue, Scenario } from '../../harness/scenario/types.js';
import { LevelProofError } from '../../harness/util/errors.js';
import { CATALOG } from '../../scenarios/index.js';
import { removeScratch, scratchDir, testImage } from './helpers.js';

const CLI = fileURLToPath(new URL('../../runners/cli.js', import.meta.url));

/** An "x86_64" package whose program was built for v3: what a wrong -march in a build root does. */
const mislabelled: Scenario = {
  id: 'test-mislabelled-variant',
  title: 'A baseline package built with v3 code',
  tags: ['test'],
  drivers: ['rpm'],
  repos: { files: [{ name: 'lgbad', version: '1.0', arch: 'x86_64', compiledFor: 'v3' }] },
  steps: [{ kind: 'install-file', repo: 'files', nevra: 'lgbad-1.0-1.x86_64', expect: () => ({ succeeds: true, runs: { lgbad: 'lgbad 1.0-1 x86_64' } }) }],
};

let scratch: string;
let env: (knownIssues: readonly KnownIssue[]) => Promise<CellEnvironment>;

test.before(async () => {
  scratch = await scratchDir('verdicts');
  const prepared = await prepareRun([...CATALOG, mislabelled], 'auto');
  env = async (knownIssues) => ({ ...prepared, knownIssues, evidenceDir: scratch, today: '2026-11-26' });
});

test.after.always(async () => {
  await removeScratch(scratch);
});

const cellOf = (scenario: Scenario, level: 'v2' | 'v3', driver: 'rpm' | 'zypper') => planCells([scenario], { levels: [level], drivers: [driver] })[0]!;

test.serial('a wrong variant that dies with SIGILL fails the cell, with the trap as evidence', async (t) => {
  const result = await runCell(cellOf(mislabelled, 'v2', 'rpm'), await env([]));
  t.is(result.verdict, 'fail');
  t.is(result.reason, 'step 1 (install local file lgbad-1.0-1.x86_64.rpm): runs lgbad: expected lgbad 1.0-1 x86_64, got sigill');
  t.deepEqual(result.steps[0]!.installedAfter, ['lgbad-1.0-1.x86_64']);
  t.true(result.steps[0]!.commands.some((c) => c.signal === 'SIGILL' && c.consoleEvents.some((e) => e.startsWith('illegal-instruction: '))));
});

test.serial('zypper installing the wrong variant on upgrade fails the cell when no known issue covers it', async (t) => {
  const scenario = CATALOG.find((s) => s.id === 'upgrade-new-variant')!;
  const result = await runCell(cellOf(scenario, 'v3', 'zypper'), await env([]));
  t.is(result.verdict, 'fail');
  t.is(result.reason, 'step 4 (upgrade lgnewvar): installed lgnewvar: expected 1.1-1.x86_64_v3, got 1.1-1.x86_64');
  t.deepEqual(result.steps[3]!.installedBefore, ['lgnewvar-1.0-1.x86_64']);
  t.deepEqual(result.steps[3]!.installedAfter, ['lgnewvar-1.1-1.x86_64']);
});

test.serial('the silent stale upgrade is caught even though zypper exits 0', async (t) => {
  const scenario = CATALOG.find((s) => s.id === 'upgrade-baseline-only')!;
  const result = await runCell(cellOf(scenario, 'v3', 'zypper'), await env([]));
  t.is(result.verdict, 'fail');
  t.is(result.reason, 'step 4 (list available updates): updates listed: expected lgstale, got none');
  const upgrade = result.steps[4]!;
  t.is(upgrade.commands.find((c) => c.command.includes(' update '))?.exitCode, 0);
  t.deepEqual(upgrade.checks.filter((c) => !c.ok).map((c) => c.check), ['installed lgstale', 'not stale: lgstale']);
});

test.serial('a known issue that passes is reported as xpass', async (t) => {
  const scenario = CATALOG.find((s) => s.id === 'detection')!;
  const issue: KnownIssue = { scenario: 'detection', driver: 'rpm', reason: 'pretend', tracker: 'https://example.invalid/xpass', expires: '2099-12-31' };
  const result = await runCell(cellOf(scenario, 'v2', 'rpm'), await env([issue]));
  t.is(result.verdict, 'xpass');
  t.regex(result.reason, /https:\/\/example\.invalid\/xpass/);
});

test.serial('a guest that does not see its level is stopped with the evidence', async (t) => {
  const error = await t.throwsAsync(QemuGuest.boot({ image: await testImage(), level: 'v3', accel: 'tcg', cpu: qemuCpuArgument('v2') }), { instanceOf: LevelProofError });
  t.regex(error!.message, /^guest levelgate-v3-\w+ does not see v3: cpuinfo: the guest sees v2, not v3 \(missing for the next level: avx avx2 bmi1 bmi2 f16c fma abm movbe xsave\)$/);
  t.regex(error!.details ?? '', /glibc: the dynamic loader supports v2, not v3/);
});

test.serial('levelgate gate writes one JSON record per cell and exits by the verdicts', async (t) => {
  const json = path.join(scratch, 'gate.json');
  const run = await execa('node', [CLI, 'gate', '--scenario', 'detection', '--level', 'v2', '--json', json, '--evidence', path.join(scratch, 'ev')], { reject: false, all: true });
  t.is(run.exitCode, 0, run.all);
  t.regex(run.stdout, /^PASS  detection\[v2,rpm\]/m);
  t.regex(run.stdout, /^XFAIL detection\[v2,dnf5\] .*dnf5\/pull\/2591/m);
  const report = JSON.parse(await readFile(json, 'utf8')) as { cells: Record<string, unknown>[] };
  t.deepEqual(
    report.cells.map((c) => [c.scenario, c.level, c.driver, c.verdict]),
    [['detection', 'v2', 'rpm', 'pass'], ['detection', 'v2', 'dnf5', 'xfail'], ['detection', 'v2', 'zypper', 'pass']],
  );
  t.true(report.cells.every((c) => typeof c.reason === 'string' && (c.reason as string).length > 0));
  const usage = await execa('node', [CLI, 'gate', '--driver', 'apt'], { reject: false });
  t.is(usage.exitCode, 2);
  t.is(usage.stderr.trim(), "levelgate: error: --driver: 'apt' is not a driver; known: dnf5, zypper, rpm");
});
