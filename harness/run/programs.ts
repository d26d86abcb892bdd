// The programs a step's checks name, run in the guest: each program's ending and first
// lines, and each shared library loaded the way the dynamic loader selects it.
import type { LevelName } from '../levels/table.js';
import { levelIndex } from '../levels/table.js';
import { runsAt } from '../levels/arch.js';
import { parseNevra, type AvailablePackage } from '../packages/available.js';
import type { ProgramRun } from '../scenario/evaluate.js';
import type { Expectation } from '../scenario/types.js';
import { commandFields, hung, type CellProgram } from './program.js';
import { type ProgramSpec } from '../model/programs.js';
import { type ExecResult } from '../model/guest.js';
import type { StepRun } from './step-run.js';
import { hwcapsDirLevel, listArgv, loadArgv, selectedCopy } from '../levels/loader.js';

/** The level a library copy needs: its glibc-hwcaps directory's, else its package's arch's. */
const copyLevelOk = (copy: string, owner: AvailablePackage | undefined, level: LevelName): boolean => {
  const dir = hwcapsDirLevel(copy);
  return dir ? levelIndex(dir) <= levelIndex(level) : !owner || runsAt(owner.arch, level);
};

/** Runs every program the expectation names (and, for `runnable`, every program of every installed package in play). */
export async function runPrograms(
  expectation: Expectation,
  installed: readonly string[],
  program: CellProgram,
  step: StepRun,
): Promise<{ runs: Record<string, ProgramRun>; runnable: string[]; packagePrograms: Record<string, string[]> }> {
  const installedPackages = installed.map((t) => parseNevra(t)).filter((p): p is AvailablePackage => p !== undefined);
  const byName = new Map(installedPackages.map((p) => [p.name, p]));
  const wanted = new Map<string, ProgramSpec>();
  const add = (name: string) => {
    if (wanted.has(name)) return;
    const specs = program.programs(name);
    wanted.set(name, specs[0] ?? { path: `/usr/bin/${name}`, args: [], packageName: name });
  };
  for (const name of [...(expectation.runs ?? []), ...(expectation.dies ?? []), ...Object.keys(expectation.loads ?? {})]) add(name);
  const packagePrograms: Record<string, string[]> = {};
  for (const name of expectation.runsPackage ?? []) {
    packagePrograms[name] = [];
    if (!byName.has(name)) continue;
    for (const spec of program.programs(name)) {
      const programName = spec.path.split('/').at(-1)!;
      if (!wanted.has(programName)) wanted.set(programName, spec);
      packagePrograms[name]!.push(programName);
    }
  }
  const runnable: string[] = [];
  if (expectation.runnable) {
    for (const p of installedPackages) {
      if (!program.inPlay.has(p.name)) continue;
      for (const spec of program.programs(p.name)) {
        const name = spec.path.split('/').at(-1)!;
        if (!wanted.has(name)) wanted.set(name, spec);
        runnable.push(name);
      }
    }
  }
  const runs: Record<string, ProgramRun> = {};
  for (const [name, spec] of wanted) {
    if (spec.library) {
      runs[name] = await loadLibrary(spec.library, byName.get(spec.packageName), step, program.limits.programMs);
      continue;
    }
    const result = await step.run({ argv: [spec.path, ...spec.args] }, 'program', program.limits.programMs);
    if (result.timedOut) throw hung(step.where, `program ${spec.path}`, spec.packageName, program.limits.programMs, result, { ...step.fields, ...commandFields(result) });
    const owner = byName.get(spec.packageName);
    runs[name] = {
      path: spec.path,
      exitCode: result.exitCode,
      signal: result.signal,
      missing: result.spawnFailed,
      firstLine: result.stdout.trim().split('\n')[0] ?? '',
      errorLine: result.stderr.trim().split('\n')[0] ?? '',
      ...(spec.identity && owner ? { identity: spec.identity(owner) } : {}),
      ...(result.forensics.length ? { forensics: result.forensics.join(' | ') } : {}),
    };
  }
  return { runs, runnable: [...new Set(runnable)].sort(), packagePrograms };
}

/**
 * A library "runs" when the dynamic loader, asked for its soname, selects a copy the
 * CPU's level allows and loads it into a program (its initialisers and IFUNC resolvers
 * run): `ld.so --list` says which copy, `ld.so --preload COPY /bin/true` loads it.
 */
async function loadLibrary(
  library: NonNullable<ProgramSpec['library']>,
  owner: AvailablePackage | undefined,
  step: StepRun,
  timeoutMs: number,
): Promise<ProgramRun> {
  const level = step.cell.guest.level;
  const hangs = (what: string, result: ExecResult) => hung(step.where, what, owner?.name ?? library.soname, timeoutMs, result, { ...step.fields, ...commandFields(result) });
  const path = library.soname;
  const base = { path, firstLine: '', errorLine: '', missing: false } as const;
  const listed = await step.run({ argv: listArgv(library.soname, library.dir) }, 'program', timeoutMs);
  if (listed.timedOut) throw hangs(`the dynamic loader listing ${library.soname}`, listed);
  const copy = selectedCopy(listed.stdout, library.soname);
  if (!copy || /cannot be preloaded/.test(listed.stderr)) {
    return { ...base, exitCode: listed.exitCode, signal: listed.signal, missing: true, errorLine: listed.stderr.trim().split('\n')[0] ?? `the loader found no ${library.soname}` };
  }
  if (!copyLevelOk(copy, owner, level)) {
    return { ...base, path: copy, exitCode: listed.exitCode, signal: null, firstLine: `loads ${copy}`, problem: { text: `the loader selects ${copy}, built above this ${level} CPU`, deviation: 'above-level' } };
  }
  const loaded = await step.run({ argv: loadArgv(copy) }, 'program', timeoutMs);
  if (loaded.timedOut) throw hangs(`loading ${copy}`, loaded);
  const refused = /cannot be preloaded/.test(loaded.stderr);
  return {
    ...base,
    path: copy,
    exitCode: loaded.exitCode,
    signal: loaded.signal,
    firstLine: `loads ${copy}`,
    errorLine: loaded.stderr.trim().split('\n')[0] ?? '',
    ...(refused ? { problem: { text: `the loader cannot load ${copy}: ${loaded.stderr.trim().split('\n')[0]}`, deviation: 'exit' as const } } : {}),
    ...(loaded.forensics.length ? { forensics: loaded.forensics.join(' | ') } : {}),
  };
}
