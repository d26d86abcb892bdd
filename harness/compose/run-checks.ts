// Runs what an installed name ships in a compose audit's guest and judges it: each
// program (with --version; a generated compose's program prints its package's identity,
// which must be the installed build's), each library asked of the dynamic loader and
// loaded into a program (its initialiser runs, so a copy above the CPU dies of SIGILL).
// Every SIGILL is explained by the forensics, as in a cell.
import { archLevel } from '../levels/arch.js';
import { levelIndex, type LevelName } from '../levels/table.js';
import { explainCommand } from '../forensics/explain-command.js';
import { evraString, type AvailablePackage } from '../packages/available.js';
import type { CheckResult, CommandRecord, Deviation } from '../results/types.js';
import { commandRecord } from '../results/command-record.js';
import type { CellGuest, ExecResult } from '../model/guest.js';
import type { NameChecks } from './metadata.js';

const LDSO = '/lib64/ld-linux-x86-64.so.2';

export interface GuestRunner {
  readonly guest: CellGuest;
  readonly programMs: number;
  readonly commandMs: number;
}

/** Runs one command and keeps it as evidence, its SIGILLs explained. */
export async function recorded(runner: GuestRunner, argv: readonly string[], role: CommandRecord['role'], timeoutMs: number): Promise<{ result: ExecResult; record: CommandRecord }> {
  const { guest } = runner;
  const result = await guest.exec(argv, { timeoutMs });
  const traps = result.consoleEvents.filter((e) => e.kind === 'illegal-instruction').map((e) => e.line);
  const forensics = result.signal === 'SIGILL' || traps.length || /CPU does not support/.test(result.stderr)
    ? await explainCommand({ argv, stderr: result.stderr, consoleLines: traps }, { exec: (a) => guest.exec(a, { timeoutMs: runner.commandMs }), level: guest.level, fidelity: guest.fidelity })
    : [];
  const record = commandRecord(result, role, forensics.map((f) => f.line));
  return { result, record };
}

const firstLine = (text: string): string => text.trim().split('\n')[0] ?? '';

/** How a run that did not pass differs. */
function runDeviation(result: ExecResult): Deviation {
  if (result.signal === 'SIGILL') return 'sigill';
  if (result.signal) return 'signal';
  if (result.timedOut) return 'hung';
  return 'exit';
}

const describe = (result: ExecResult): string =>
  result.signal ? `killed by ${result.signal}${firstLine(result.stderr) ? ` (${firstLine(result.stderr)})` : ''}` : result.timedOut ? 'hung' : `exit ${result.exitCode}${firstLine(result.stderr || result.stdout) ? `: ${firstLine(result.stderr || result.stdout)}` : ''}`;

/** The level a library copy needs: its glibc-hwcaps directory's, else its package's arch's. */
function copyLevel(copy: string, owner: AvailablePackage): LevelName {
  const m = /\/glibc-hwcaps\/x86-64-(v[234])\//.exec(copy);
  return (m ? m[1] : (archLevel(owner.arch) ?? 'v1')) as LevelName;
}

/** Every program and library of `installed` run or loaded, each a check with its command as evidence. */
export async function runChecks(runner: GuestRunner, name: string, installed: AvailablePackage, ships: NameChecks): Promise<{ checks: CheckResult[]; commands: CommandRecord[] }> {
  const checks: CheckResult[] = [];
  const commands: CommandRecord[] = [];
  const level = runner.guest.level;
  const identity = `${name} ${evraString(installed).replace(/\.([^.]+)$/, ' $1')}`;
  for (const program of ships.programs) {
    const { result, record } = await recorded(runner, [program, '--version'], 'program', runner.programMs);
    commands.push(record);
    const out = firstLine(result.stdout);
    // A generated compose's program names the package whose files it is: it must be the installed build.
    const claims = out.startsWith(`${name} `);
    const base = { kind: 'runs' as const, subject: program, check: `runs ${program} (${name})`, expected: claims ? `runs and reports ${identity}` : 'runs (exit 0)' };
    if (result.exitCode === 0 && !result.signal) {
      const ok = !claims || out === identity;
      checks.push({ ...base, actual: out || 'exit 0', status: ok ? 'pass' : 'fail', ...(ok ? {} : { deviation: 'output' as const }) });
    } else {
      checks.push({ ...base, actual: `${describe(result)}${record.forensics ? ` — ${record.forensics.join(' | ')}` : ''}`, status: 'fail', deviation: runDeviation(result) });
    }
  }
  for (const library of ships.libraries) {
    const base = { kind: 'runs' as const, subject: library.soname, check: `loads ${library.soname} (${name})`, expected: `the loader picks a copy for ${level} and loads it` };
    const listed = await recorded(runner, [LDSO, '--library-path', library.dir, '--list', '--preload', library.soname, '/bin/true'], 'program', runner.programMs);
    commands.push(listed.record);
    const copy = new RegExp(`^\\s*${library.soname.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} => (\\S+)`, 'm').exec(listed.result.stdout)?.[1];
    if (!copy) {
      checks.push({ ...base, actual: `the loader found no copy: ${describe(listed.result)}`, status: 'fail', deviation: 'missing' });
      continue;
    }
    if (levelIndex(copyLevel(copy, installed)) > levelIndex(level)) {
      checks.push({ ...base, actual: `the loader selects ${copy}, built above this ${level} CPU`, status: 'fail', deviation: 'above-level' });
      continue;
    }
    const loaded = await recorded(runner, [LDSO, '--preload', copy, '/bin/true'], 'program', runner.programMs);
    commands.push(loaded.record);
    const ok = loaded.result.exitCode === 0 && !loaded.result.signal && !/cannot be preloaded/.test(loaded.result.stderr);
    checks.push({
      ...base,
      actual: ok ? `loads ${copy}` : `${copy}: ${describe(loaded.result)}${loaded.record.forensics ? ` — ${loaded.record.forensics.join(' | ')}` : ''}`,
      status: ok ? 'pass' : 'fail',
      ...(ok ? {} : { deviation: runDeviation(loaded.result) }),
    });
  }
  return { checks, commands };
}
