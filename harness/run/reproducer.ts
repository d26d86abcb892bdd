// A ready-to-file reproducer for a cell whose solver got it wrong: a directory a
// maintainer can replay without levelgate — the solver's own test case (libsolv's
// testcase.t, from zypper --debug-solver or dnf5 --debugsolver, replayable with
// `testsolv testcase.t`), the repositories the scenario used, the exact commands in
// order, and what was expected.
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { KnownIssue } from '../plan/known-issues.js';
import type { RepoCatalog } from '../repos/catalog.js';
import type { CheckKind, StepRecord } from '../results/types.js';
import type { Scenario } from '../scenario/types.js';
import type { RepoFormat } from '../model/package-manager.js';

/** Checks that judge what the solver decided (not what a program did afterwards). */
const SOLVER_CHECKS: readonly CheckKind[] = ['installed', 'current', 'updates', 'outcome'];
const SOLVER_ACTIONS = ['install', 'upgrade', 'downgrade', 'distro-sync', 'remove', 'install-file', 'release-upgrade'];

/** The first step whose failing checks are the solver's decisions, if any. */
export function firstSolverFailure(steps: readonly StepRecord[]): StepRecord | undefined {
  return steps.find((s) => SOLVER_ACTIONS.includes(s.action) && s.checks.some((c) => c.status === 'fail' && SOLVER_CHECKS.includes(c.kind)));
}

/** The commands a maintainer runs in a guest of the same image, as a shell script (for reading and copying, not for levelgate). */
export function commandsScript(title: string, level: string, steps: readonly StepRecord[], until: number | undefined, issues: readonly KnownIssue[]): string {
  const lines = [
    '#!/bin/sh',
    `# levelgate reproducer: ${title}`,
    ...issues.map((i) => `# known issue ${i.id}: ${i.reason}\n#   documented at ${i.tracker}`),
    `# Run as root in a guest of CPU level ${level} with the repositories of repos/ where the repository files below point.`,
    'set -x',
  ];
  for (const step of steps) {
    if (until !== undefined && step.index > until) break;
    lines.push('', `# step ${step.index} at ${step.level}: ${step.title}`);
    if (step.action === 'move-to' || step.action === 'reboot') lines.push(`# (power off; boot this disk on a ${step.level} CPU)`);
    for (const command of step.commands) {
      if (command.role === 'program' || command.role === 'query') continue;
      const input = command.command.startsWith('tee ') ? command.stdout : undefined;
      lines.push(input !== undefined ? `${command.command} <<'LEVELGATE_EOF'\n${input.replace(/\n$/, '')}\nLEVELGATE_EOF` : command.command);
    }
    for (const check of step.checks.filter((c) => c.status === 'fail')) lines.push(`# expected ${check.check}: ${check.expected}; got ${check.actual}`);
  }
  return `${lines.join('\n')}\n`;
}

export interface ReproducerInput {
  readonly cellId: string;
  readonly scenario: Scenario;
  readonly level: string;
  readonly steps: readonly StepRecord[];
  readonly issues: readonly KnownIssue[];
  readonly catalog: RepoCatalog;
  /** The repository format of the cell's driver (fixtures are published in each). */
  readonly format?: RepoFormat;
  /** The solver's test case of the failing step, when it could be made. */
  readonly solverCase?: { readonly step: number; readonly tool: string; readonly files: ReadonlyMap<string, Buffer> };
  readonly failingStep?: number;
  /** Why the solver's test case could not be made. */
  readonly problem?: string;
}

/** Writes EVIDENCE/reproducer/ and returns its path. */
export async function writeReproducer(evidence: string, input: ReproducerInput): Promise<string> {
  const dir = path.join(evidence, 'reproducer');
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'commands.sh'), commandsScript(`${input.cellId}: ${input.scenario.title}`, input.level, input.steps, input.failingStep, input.issues), { mode: 0o755 });
  const repoNotes: string[] = [];
  for (const [name, spec] of Object.entries(input.scenario.repos)) {
    const host = input.catalog.hostDir(input.scenario, name, input.format);
    if (spec.kind === 'attached' || !host) {
      repoNotes.push(`- ${name}: ${spec.kind === 'attached' ? `the attached repository ${spec.name}` : 'no directory'}${host ? ` at ${host}` : ''} (not copied)`);
      continue;
    }
    // A rerun writes into the same evidence: replace the copy (fs.cp cannot copy a symlink, as repo-add makes them, over itself).
    await rm(path.join(dir, 'repos', name), { recursive: true, force: true });
    await cp(host, path.join(dir, 'repos', name), { recursive: true, verbatimSymlinks: true });
    repoNotes.push(`- ${name}: repos/${name} (its metadata and packages)`);
  }
  if (input.solverCase) {
    await mkdir(path.join(dir, 'solver'), { recursive: true });
    for (const [name, content] of input.solverCase.files) await writeFile(path.join(dir, 'solver', name), content);
  }
  const failing = input.steps.find((s) => s.index === input.failingStep);
  await writeFile(
    path.join(dir, 'README.txt'),
    [
      `Reproducer for ${input.cellId}: ${input.scenario.title}`,
      '',
      failing ? `What went wrong at step ${failing.index} (${failing.title}), at CPU level ${failing.level}:` : 'What went wrong:',
      ...(failing?.checks.filter((c) => c.status === 'fail').map((c) => `  ${c.check}: expected ${c.expected}, got ${c.actual}`) ?? []),
      ...input.issues.map((i) => `Known issue ${i.id}: ${i.reason} (${i.tracker})`),
      '',
      input.solverCase
        ? `solver/ holds ${input.solverCase.tool}'s own solver test case of that step. Replay it with libsolv's tools alone:\n  cd solver && testsolv testcase.t\n(testsolv is in Debian's and openSUSE's libsolv-tools; its result is in solver.result).`
        : `No solver test case could be made for this step${input.problem ? `: ${input.problem}` : '.'}`,
      '',
      'commands.sh lists every command levelgate ran, in order, with the repository files it wrote; the repositories:',
      ...repoNotes,
      '',
    ].join('\n'),
  );
  return dir;
}
