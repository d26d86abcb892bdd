// The programs and library loads of many installed names run in ONE guest command: a
// constant shell script (the items are its positional arguments, never shell text) runs
// each under coreutils `timeout` and prints framed results behind a per-batch marker
// nobody can guess; the host reads them back into one command result per item.
import { randomBytes } from 'node:crypto';
import { quoteCommand } from '../util/quote.js';
import { signalName } from '../util/signals.js';
import type { ExecResult } from '../model/guest.js';
import { LDSO, listArgv, loadArgv } from '../levels/loader.js';
import { escapeRegExp } from '../util/regexp.js';

/** What the batch runs: a program with --version, or a library asked of the loader and then its listed copy loaded. */
export type BatchItem = { readonly kind: 'program'; readonly program: string } | { readonly kind: 'library'; readonly soname: string; readonly dir: string };

/** The commands an item stands for, exactly as the per-item path runs them alone. */
export const programArgv = (program: string): string[] => [program, '--version'];

/** Bytes of each stream kept per command (the first ones; the rest is said to be cut). */
export const BATCH_OUTPUT_BYTES = 4096;
/** Seconds `timeout` waits after its TERM before KILL. */
const KILL_AFTER_S = 5;

/**
 * $1 marker, $2 per-command limit in seconds, $3 bytes kept + 1, $4 the loader, then one
 * triple per item: `p PROGRAM -` or `l SONAME DIR`. Each command's status is the shell's:
 * 124 when `timeout` stopped it, 128+N when a signal killed it (timeout re-raises the
 * child's signal on itself), else its exit status. Each `timeout` runs in a subshell so the
 * shell's own "Illegal instruction" notice goes to the batch's stderr, not the command's.
 */
export const BATCH_SCRIPT = `mark=$1 limit=$2 cap=$3 ldso=$4
shift 4
d=$(mktemp -d) || exit 125
trap 'rm -rf "$d"' EXIT
emit() {
  printf '%s %s %s %s %s\\n%s o\\n' "$mark" "$1" "$2" "$3" "$4" "$mark"
  [ -s "$d/o" ] && head -c "$cap" "$d/o"
  printf '\\n%s e\\n' "$mark"
  [ -s "$d/e" ] && head -c "$cap" "$d/e"
  printf '\\n'
}
i=0
while [ $# -ge 3 ]; do
  kind=$1 a=$2 b=$3
  shift 3
  if [ "$kind" = p ]; then
    (timeout -k ${KILL_AFTER_S} "$limit" "$a" --version) <"/dev/null" >"$d/o" 2>"$d/e"
    emit "$i" run "$?" -
  else
    (timeout -k ${KILL_AFTER_S} "$limit" "$ldso" --library-path "$b" --list --preload "$a" /bin/true) <"/dev/null" >"$d/o" 2>"$d/e"
    emit "$i" list "$?" -
    copy=
    while read -r f1 f2 f3 rest; do
      if [ "$f1" = "$a" ] && [ "$f2" = "=>" ]; then copy=$f3; break; fi
    done <"$d/o"
    if [ -n "$copy" ]; then
      (timeout -k ${KILL_AFTER_S} "$limit" "$ldso" --preload "$copy" /bin/true) <"/dev/null" >"$d/o" 2>"$d/e"
      emit "$i" load "$?" "$copy"
    fi
  fi
  i=$((i+1))
done
printf '%s end\\n' "$mark"
`;

/** The commands `items` stand for at most: one per program, two per library (list, load). */
const commandsOf = (items: readonly BatchItem[]): number => items.reduce((n, item) => n + (item.kind === 'program' ? 1 : 2), 0);

export interface BatchCommand {
  readonly argv: string[];
  readonly marker: string;
  /** The whole command's limit: every item's own limit, twice for a library, plus `slackMs`. */
  readonly timeoutMs: number;
}

/** The guest command for `items`, each command limited to `programMs`. */
export function batchCommand(items: readonly BatchItem[], programMs: number, slackMs: number): BatchCommand {
  const marker = `lg-batch-${randomBytes(16).toString('hex')}`;
  const args = items.flatMap((item) => (item.kind === 'program' ? ['p', item.program, '-'] : ['l', item.soname, item.dir]));
  return {
    argv: ['sh', '-c', BATCH_SCRIPT, 'sh', marker, String(programMs / 1000), String(BATCH_OUTPUT_BYTES + 1), LDSO, ...args],
    marker,
    timeoutMs: commandsOf(items) * (programMs + KILL_AFTER_S * 1000) + slackMs,
  };
}

/** One command the batch ran, as the per-item path would have recorded it. */
export interface BatchRun {
  readonly index: number;
  readonly step: 'run' | 'list' | 'load';
  readonly argv: string[];
  readonly result: ExecResult;
}

/** An exit status as the shell reports it, read back into the guest's words. */
export function statusOf(status: number): Pick<ExecResult, 'exitCode' | 'signal' | 'timedOut'> {
  if (status === 124) return { exitCode: null, signal: null, timedOut: true };
  if (status > 128) return { exitCode: null, signal: signalName(status - 128) ?? `signal ${status - 128}`, timedOut: false };
  return { exitCode: status, signal: null, timedOut: false };
}

/** At most BATCH_OUTPUT_BYTES of a stream (the script kept one byte more, to tell a cut). */
function bounded(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.length > BATCH_OUTPUT_BYTES ? `${bytes.subarray(0, BATCH_OUTPUT_BYTES).toString('utf8')}\n[cut at ${BATCH_OUTPUT_BYTES} bytes]` : text;
}

/** The kernel's trap lines that name an item's command: its program's name (the kernel keeps 15 characters), or the library copy it faulted in. */
export function trapsOf(run: Pick<BatchRun, 'step' | 'argv'>, traps: readonly string[]): string[] {
  if (run.step === 'run') {
    const comm = (run.argv[0]!.split('/').pop() ?? '').slice(0, 15);
    return traps.filter((line) => line.includes(` ${comm}[`) || line.startsWith(`${comm}[`));
  }
  const file = run.step === 'load' ? run.argv[2]!.split('/').pop()! : undefined;
  return file ? traps.filter((line) => line.includes(` in ${file}[`)) : [];
}

/**
 * The batch's answer read back into one result per command, in the order run; undefined
 * when the batch did not finish as a whole (its end marker missing, its shell not exit 0,
 * or an item unaccounted for): the caller then runs every item alone.
 */
export function parseBatch(items: readonly BatchItem[], command: BatchCommand, batch: ExecResult): BatchRun[] | undefined {
  if (batch.exitCode !== 0 || batch.signal || batch.timedOut) return undefined;
  const m = escapeRegExp(command.marker);
  // (A backend may strip the last newline.)
  if (!new RegExp(`(^|\\n)${m} end\\n?$`).test(batch.stdout)) return undefined;
  const frame = new RegExp(`${m} (\\d+) (run|list|load) (\\d+) (.*)\\n${m} o\\n([\\s\\S]*?)\\n${m} e\\n([\\s\\S]*?)\\n(?=${m} )`, 'g');
  const runs: BatchRun[] = [];
  const commands = commandsOf(items);
  for (const [, index, step, status, copy, stdout, stderr] of batch.stdout.matchAll(frame)) {
    const item = items[Number(index)];
    if (!item || (item.kind === 'program') !== (step === 'run')) return undefined;
    const argv = item.kind === 'program' ? programArgv(item.program) : step === 'list' ? listArgv(item.soname, item.dir) : loadArgv(copy!);
    const how = statusOf(Number(status));
    runs.push({
      index: Number(index),
      step: step as BatchRun['step'],
      argv,
      result: {
        command: quoteCommand(argv),
        ...how,
        spawnFailed: false,
        stdout: bounded(stdout!),
        stderr: bounded(stderr!),
        // The batch's time, shared by its commands.
        durationMs: Math.round((batch.durationMs / commands) * 10) / 10,
        consoleEvents: [],
      },
    });
  }
  // Every item ran (a library's load only when its list named a copy), in order.
  const seen = new Set(runs.map((r) => r.index));
  if (seen.size !== items.length || runs.some((r, i) => i > 0 && r.index < runs[i - 1]!.index)) return undefined;
  return withTraps(runs, batch.consoleEvents.filter((e) => e.kind === 'illegal-instruction').map((e) => e.line));
}

/** Each run with the trap lines that name it; a trap that names none goes to every run a SIGILL killed (the trap is one of theirs). */
function withTraps(runs: readonly BatchRun[], traps: readonly string[]): BatchRun[] {
  const named = runs.map((run) => trapsOf(run, traps));
  const unnamed = traps.filter((line) => !named.some((lines) => lines.includes(line)));
  return runs.map((run, i) => {
    const lines = [...named[i]!, ...(run.result.signal === 'SIGILL' ? unnamed : [])];
    return { ...run, result: { ...run.result, consoleEvents: lines.map((line) => ({ kind: 'illegal-instruction', line })) } };
  });
}
