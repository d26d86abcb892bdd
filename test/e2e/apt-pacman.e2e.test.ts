// apt and pacman in real guests at v2 and v3: Debian sid's apt 3.3 with "auto" variants
// and pacman 7.1 against the fixture archives and level repositories. The tests assert
// the rules (the variant installed is the one apt or pacman chose, the installed set is
// read from dpkg's and pacman's databases, a known issue explains exactly the checks it
// names and without it the cell fails, a SIGILL names the owning .deb or pkg), not only
// today's verdicts.
import test from 'ava';
import type { KnownIssue } from '../../harness/plan/known-issues.js';
import { planCells } from '../../harness/plan/plan.js';
import { runCell, type CellEnvironment } from '../../harness/run/cell.js';
import { prepareRun, type Prepared } from '../../harness/run/prepare.js';
import type { Scenario } from '../../harness/scenario/types.js';
import type { DriverName } from '../../harness/model/package-manager.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';
import { removeScratch, scratchDir } from './helpers.js';

const TODAY = '2026-12-07';

let scratch: string;
let prepared: Prepared;
const env = (knownIssues: readonly KnownIssue[]): CellEnvironment => ({ ...prepared, knownIssues, evidenceDir: scratch, today: TODAY });
const scenario = (id: string) => CATALOG.find((s) => s.id === id)!;
const cellOf = (s: Scenario, level: 'v2' | 'v3', driver: DriverName) => planCells([s], { targets: [level], drivers: [driver] })[0]!;
const failing = (r: Awaited<ReturnType<typeof runCell>>) => r.steps.flatMap((s) => s.checks.filter((c) => c.status === 'fail').map((c) => `${s.index}:${c.check}`));

test.before(async () => {
  scratch = await scratchDir('apt-pacman');
  prepared = await prepareRun(CATALOG, 'auto');
});

test.after.always(async () => {
  await removeScratch(scratch);
});

test.serial('apt at v3: a standalone archive gives the v3 builds, read back from dpkg with their variant', async (t) => {
  const result = await runCell(cellOf(scenario('fresh-install-mixed'), 'v3', 'apt'), env(KNOWN_ISSUES));
  t.is(result.verdict, 'pass', result.reason);
  t.deepEqual(result.steps[1]!.installedAfter, ['lgmixed-1.0-1.x86_64_v3', 'lgpartial-1.0-1.x86_64_v3']);
  t.true(result.steps[0]!.commands.some((c) => c.command.startsWith('apt-get update')));
});

test.serial('apt at v2: the amd64v2 index lacks lgpartial, so nothing installs (LP#2139113): xfail with the issue, fail without it', async (t) => {
  const cell = cellOf(scenario('fresh-install-mixed'), 'v2', 'apt');
  const covered = await runCell(cell, env(KNOWN_ISSUES));
  t.is(covered.verdict, 'xfail', covered.reason);
  t.deepEqual(covered.knownIssues.map((k) => k.id), ['apt-standalone-no-fallback/fresh-install']);
  const bare = await runCell(cell, env([]));
  t.is(bare.verdict, 'fail');
  t.deepEqual(failing(bare), failing(covered));
  t.regex(bare.reason, /Unable to locate package lgpartial/);
});

test.serial('apt after a move from v3 to v2: the v3 build stays and its SIGILL names the owning .deb', async (t) => {
  const result = await runCell(cellOf(scenario('moved-to-older-cpu'), 'v3', 'apt'), env(KNOWN_ISSUES));
  t.is(result.verdict, 'xfail', result.reason);
  const trap = result.steps.flatMap((s) => s.checks).find((c) => c.check === 'runnable: lgmove' && c.status === 'fail');
  t.regex(trap?.actual ?? '', /^sigill — lgmove-1\.0-1\.x86_64_v3 \(dpkg\): \/usr\/bin\/lgmove\+0x[0-9a-f]+: .* needs AVX2? \(x86-64-v3\); this guest is x86-64-v2$/);
});

test.serial('apt at v2: an explicit "amd64v3" installs the v3 build on a v2 CPU, which dies (no CPU check)', async (t) => {
  const result = await runCell(cellOf(scenario('apt-explicit-variant-lower-cpu'), 'v2', 'apt'), env(KNOWN_ISSUES));
  t.is(result.verdict, 'xfail', result.reason);
  t.deepEqual(result.steps.at(-1)!.installedAfter, ['lgaexplicit-1.0-1.x86_64_v3']);
});

test.serial('pacman at v3: the CachyOS layout under `auto` refuses the v3 build; with the architecture list it installs it', async (t) => {
  const layout = await runCell(cellOf(scenario('pacman-cachyos-layout'), 'v3', 'pacman'), env(KNOWN_ISSUES));
  t.is(layout.verdict, 'xfail', layout.reason);
  t.regex(layout.steps[1]!.checks.find((c) => c.kind === 'outcome')?.actual ?? '', /^refused \(incompatible-arch\): error: failed to prepare transaction \(package architecture is not valid\)/);
  const bare = await runCell(cellOf(scenario('pacman-cachyos-layout'), 'v3', 'pacman'), env([]));
  t.is(bare.verdict, 'fail', bare.reason);
  const listed = await runCell(cellOf(scenario('pacman-cachyos-architecture'), 'v3', 'pacman'), env(KNOWN_ISSUES));
  t.is(listed.verdict, 'pass', listed.reason);
  t.deepEqual(listed.steps.at(-1)!.installedAfter, ['lgpcachyarch-1.0-1.x86_64_v3']);
});

test.serial('pacman at v2: the ALHP v3 build (labelled x86_64) installs and dies; the SIGILL names the pacman package', async (t) => {
  const result = await runCell(cellOf(scenario('pacman-alhp-layout'), 'v2', 'pacman'), env(KNOWN_ISSUES));
  t.is(result.verdict, 'xfail', result.reason);
  t.deepEqual(result.steps.at(-1)!.installedAfter, ['lgpalhp-1.0-1.1.x86_64']);
  const trap = result.steps.flatMap((s) => s.checks).find((c) => c.status === 'fail');
  t.regex(trap?.actual ?? '', /lgpalhp-1\.0-1\.1\.x86_64 \(pacman\)/);
});

test.serial('detection at v2 and v3: apt-variants says the level; pacman says x86_64 (no level detection), a known issue above v1', async (t) => {
  for (const level of ['v2', 'v3'] as const) {
    const result = await runCell(cellOf(scenario('detection'), level, 'rpm'), env(KNOWN_ISSUES));
    t.is(result.verdict, 'xfail', result.reason);
    const checks = result.steps[0]!.checks;
    t.is(checks.find((c) => c.subject === 'apt-variants')?.status, 'pass', level);
    t.is(checks.find((c) => c.subject === 'apt-test-table')?.status, 'pass', level);
    t.is(checks.find((c) => c.subject === 'pacman-arch')?.actual, 'v1 (x86_64)');
  }
});
