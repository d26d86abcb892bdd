// A ready-to-file reproducer for a cell whose solver got it wrong: a directory a
// maintainer can replay without levelgate — the solver's own test case (libsolv's
// testcase.t, from zypper --debug-solver or dnf5 --debugsolver, replayable with
// `testsolv testcase.t`), the repositories the scenario used, the exact commands in
// order, and what was expected. The solver's test case of an expected failure is kept
// in the cache under everything it depends on, so the next run reuses it instead of
// replaying the cell.
import { createHash, randomUUID } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cacheRoot } from '../host/cache.js';
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
  readonly solverCase?: SolverCase;
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

/** A solver's test case: the step it is of, the tool that wrote it, its files. */
export interface SolverCase {
  readonly step: number;
  readonly tool: string;
  readonly files: ReadonlyMap<string, Buffer>;
}

/** Bump when what the replay does changes (its commands, the files it collects): stored test cases are then made again. */
const SOLVER_CASE_LAYOUT = 1;

export interface SolverCaseInputs {
  readonly cellId: string;
  /** The guest image (its digest) the cell ran on: the tools and the installed set. */
  readonly imageDigest: string;
  /** Each repository's host directory; undefined: not content-addressed (an attached one), nothing is stored. */
  readonly repoDirs: readonly (string | undefined)[];
  readonly steps: readonly StepRecord[];
  readonly failingStep: number;
  readonly issues: readonly KnownIssue[];
}

/**
 * The key of a cell's solver test case: the image, the fixture repositories (their
 * directories are named by their content's digest), the known issues that explain the
 * failure, and every command and check of the steps up to the failing one as this run
 * saw them: a solver that decides otherwise makes another key. Undefined when a
 * repository is not content-addressed (an attached one may change under the same path).
 */
export function solverCaseKey(inputs: SolverCaseInputs): string | undefined {
  if (inputs.repoDirs.some((d) => d === undefined)) return undefined;
  const steps = inputs.steps
    .filter((s) => s.index <= inputs.failingStep)
    .map((s) => ({
      index: s.index,
      action: s.action,
      level: s.level,
      commands: s.commands.map((c) => [c.role, c.command, c.exitCode, c.signal, c.timedOut]),
      installedAfter: s.installedAfter,
      checks: s.checks.map((c) => [c.kind, c.subject, c.expected, c.actual, c.status]),
    }));
  const key = { layout: SOLVER_CASE_LAYOUT, cell: inputs.cellId, image: inputs.imageDigest, repos: [...inputs.repoDirs].sort(), steps, failingStep: inputs.failingStep, issues: inputs.issues.map((i) => i.id).sort() };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16);
}

const solverCaseDir = (key: string, cacheDir: string) => path.join(cacheDir, 'reproducers', key);

/** The stored test case for `key`, or undefined when there is none (or it cannot be read). */
export async function storedSolverCase(key: string, cacheDir = cacheRoot()): Promise<SolverCase | undefined> {
  const dir = solverCaseDir(key, cacheDir);
  try {
    const meta = JSON.parse(await readFile(path.join(dir, 'case.json'), 'utf8')) as { step: number; tool: string; files: string[] };
    const files = new Map<string, Buffer>();
    for (const name of meta.files) files.set(name, await readFile(path.join(dir, 'files', name)));
    return { step: meta.step, tool: meta.tool, files };
  } catch {
    return undefined;
  }
}

/** Keeps `solverCase` under `key` (written to a staging directory, then renamed into place); a failed write only costs the next run a replay. */
export async function storeSolverCase(key: string, solverCase: SolverCase, cacheDir = cacheRoot()): Promise<void> {
  const dir = solverCaseDir(key, cacheDir);
  const staging = `${dir}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await mkdir(path.join(staging, 'files'), { recursive: true });
    for (const [name, content] of solverCase.files) await writeFile(path.join(staging, 'files', name), content);
    await writeFile(path.join(staging, 'case.json'), `${JSON.stringify({ step: solverCase.step, tool: solverCase.tool, files: [...solverCase.files.keys()] })}\n`);
    await rename(staging, dir);
  } catch {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
  }
}

