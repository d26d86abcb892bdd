// audit --run and gate --audit in a real guest, with fixtures built for the purpose: an
// "x86_64" package whose program was compiled for v3 (lgbad: what a wrong -march in a
// build root ships), an "x86_64_v3" one compiled for v4 (lgbad4) and a clean one. The
// fixtures' v2 and v3 snapshots serve every check: each package and the cell restore one
// (about 0.3 s) onto a disk of their own.
import path from 'node:path';
import test from 'ava';
import { runAudit } from '../../harness/audit/audit.js';
import { planRuns } from '../../harness/audit/dynamic/plan.js';
import { withRun } from '../../harness/audit/dynamic/reconcile.js';
import { runPackages } from '../../harness/audit-run/run-packages.js';
import { PooledInstallAuditor } from '../../harness/audit/install-auditor.js';
import { findingText } from '../../harness/audit/report-text.js';
import type { PackageAudit } from '../../harness/audit/types.js';
import { defineScenario, installFile } from '../../harness/index.js';
import { exactTarget } from '../../harness/levels/targets.js';
import { planCells } from '../../harness/plan/plan.js';
import { GUEST_FIXTURES } from '../../harness/repos/catalog.js';
import { runCell } from '../../harness/run/cell.js';
import { prepareRun, type Prepared } from '../../harness/run/prepare.js';
import { removeScratch, scratchDir } from './helpers.js';

/** Installs the mislabelled package and checks only that it is installed: the audit alone must fail the cell. */
const mislabelled = defineScenario({
  id: 'test-audit-mislabelled',
  title: 'An x86_64 package with v3 code, installed and never run',
  tags: ['test'],
  drivers: ['rpm'],
  repos: {
    files: [
      { name: 'lgbad', version: '1.0', arch: 'x86_64', compiledFor: 'v3' },
      { name: 'lgfine', version: '1.0', arch: 'x86_64' },
      // Labelled v3, built for v4 (AVX-512): traps on a v3 CPU.
      { name: 'lgbad4', version: '1.0', arch: 'x86_64_v3', compiledFor: 'v4' },
    ],
  },
  steps: [installFile('files', 'lgbad-1.0-1.x86_64').expect({ installed: { lgbad: '1.0-1.x86_64' } }), installFile('files', 'lgfine-1.0-1.x86_64').expect({ installed: { lgfine: '1.0-1.x86_64' } })],
});

let scratch: string;
let prepared: Prepared;
let files: Map<string, string>;
test.before(async () => {
  scratch = await scratchDir('audit-run');
  prepared = await prepareRun([mislabelled], 'auto');
  files = await prepared.catalog.packageFiles(mislabelled);
});
test.after.always(async () => {
  await removeScratch(scratch);
});

/** The packages' static audit, then each run at `level` in a guest restored from the fixtures' snapshot there. */
async function auditRun(nevras: string[], level: 'v2' | 'v3' = 'v2'): Promise<PackageAudit[]> {
  const statically = await runAudit(
    nevras.map((n) => files.get(n)!),
    { jobs: 1, looseArch: 'x86_64' },
  );
  const plan = planRuns(statically.packages, { target: exactTarget(level), commands: new Map() });
  const runs = await runPackages(plan, {
    guests: prepared.guests,
    accel: prepared.accel,
    guestPath: (file) => `${GUEST_FIXTURES}/${path.relative(prepared.fixtures!.reposDir, file)}`,
    scratch,
  });
  return statically.packages.map((p) => withRun(p, runs.get(p.file!)!));
}

test.serial('audit --run v2: the v3 program of an x86_64 package traps; the forensics name the instruction, AVX/AVX2 and x86-64-v3; the finding is confirmed', async (t) => {
  const [bad, fine] = await auditRun(['lgbad-1.0-1.x86_64', 'lgfine-1.0-1.x86_64']);
  // (a) the forensics line of a v3 program run on a v2 guest.
  t.like(bad!.run, { target: 'v2', level: 'v2', fidelity: 'traps', start: 'snapshot' });
  t.is(bad!.run!.traps.length, 1, JSON.stringify(bad!.run));
  t.regex(bad!.run!.traps[0]!.line, /^lgbad-1\.0-1\.x86_64: \/usr\/bin\/lgbad\+0x[0-9a-f]+: v\w+ .* needs AVX(, (AVX2|BMI1|BMI2|F16C|FMA|LZCNT|MOVBE))* \(x86-64-v3\); this guest is x86-64-v2$/);
  t.like(bad!.run!.programs[0], { command: '/usr/bin/lgbad --version', signal: 'SIGILL' });
  // (b) the static finding, confirmed by the trap.
  t.is(bad!.verdict, 'finding');
  t.like(bad!.findings[0], { path: '/usr/bin/lgbad', needs: 'v3', allowed: 'v1', certainty: 'sure', confidence: 'confirmed', run: { outcome: 'trapped', level: 'v2' } });
  t.regex(findingText(bad!.findings[0]!), / — confidence confirmed by a trap at x86-64-v2: lgbad-1\.0-1\.x86_64: \/usr\/bin\/lgbad\+0x/);
  // The clean package installs, runs and passes.
  t.is(fine!.verdict, 'pass');
  t.like(fine!.run, { traps: [], programs: [{ command: '/usr/bin/lgfine --version', exitCode: 0, signal: null }] });
});

test.serial('gate --audit: a cell that installs the mislabelled package fails on its audit check, with the first offending instruction; the clean one passes its check', async (t) => {
  const auditor = new PooledInstallAuditor();
  try {
    const cell = planCells([mislabelled], { targets: ['v2'], drivers: ['rpm'] })[0]!;
    const result = await runCell(cell, { ...prepared, knownIssues: [], evidenceDir: scratch, today: '2026-12-01', installAudit: auditor });
    t.log(result.reason);
    t.is(result.verdict, 'fail', result.reason);
    t.regex(result.reason, /^step 1 \(install local file lgbad-1\.0-1\.x86_64\.rpm\): audit lgbad-1\.0-1\.x86_64: expected code that runs on x86-64-v2 \(the guest it was installed on\), got \/usr\/bin\/lgbad needs AVX(, (AVX2|BMI1|BMI2|F16C|FMA|LZCNT|MOVBE))* \(x86-64-v3\) without a CPU check, sure \(reached\): 0x[0-9a-f]+ \(file \+0x[0-9a-f]+\): v\w+ /);
    const checks = result.steps.flatMap((s) => s.checks.filter((c) => c.kind === 'audit').map((c) => [s.index, c.check, c.status]));
    t.deepEqual(checks, [
      [1, 'audit lgbad-1.0-1.x86_64', 'fail'],
      [2, 'audit lgfine-1.0-1.x86_64', 'pass'],
    ]);
    t.true(result.steps.every((s) => s.checks.every((c) => c.kind === 'audit' || c.status === 'pass')), 'the audit alone fails it');
  } finally {
    await auditor.close();
  }
});

test.serial('audit --run v3: the v4 program of an x86_64_v3 package traps on a v3 guest; the forensics name the AVX-512 instruction and x86-64-v4', async (t) => {
  const [bad4] = await auditRun(['lgbad4-1.0-1.x86_64_v3'], 'v3');
  t.like(bad4!.run, { target: 'v3', level: 'v3', fidelity: 'traps' });
  t.is(bad4!.run!.traps.length, 1, JSON.stringify(bad4!.run));
  t.regex(bad4!.run!.traps[0]!.line, /^lgbad4-1\.0-1\.x86_64_v3: \/usr\/bin\/lgbad4\+0x[0-9a-f]+: v\w+ .* needs AVX512\w+(, AVX512\w+)* \(x86-64-v4\); this guest is x86-64-v3$/);
  t.is(bad4!.verdict, 'finding');
  t.like(bad4!.findings[0], { path: '/usr/bin/lgbad4', needs: 'v4', allowed: 'v3', confidence: 'confirmed' });
});
