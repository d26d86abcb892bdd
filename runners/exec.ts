// `levelgate exec --level vN -- COMMAND...`: restores (or boots) a pinned guest, proves
// its level, runs one command with its output streamed, and exits with the command's status.
import { constants } from 'node:os';
import { DEFAULTS, seconds } from '../harness/model/defaults.js';
import { openPinnedGuest } from '../harness/accel/pinned.js';
import type { AgentGuest } from '../harness/guest/agent-guest.js';
import { UsageError } from '../harness/util/errors.js';
import { formatSeconds, stderrLog } from '../harness/util/log.js';
import { defineCommand, type Values } from './command.js';
import { reportError, type RunContext } from './run-context.js';
import { describeTarget } from '../harness/levels/targets.js';
import type { LevelName } from '../harness/levels/table.js';
import { resolveAccel, resolveDataDisk, resolveSeconds, resolveTarget } from './resolve.js';
import { explainCommand } from '../harness/forensics/explain-command.js';

export const EXEC_USAGE = `usage: levelgate exec --level LEVEL [options] -- COMMAND [ARG...]

Starts a guest pinned to LEVEL, proves it sees that level, runs COMMAND in it and
exits with COMMAND's status (128+N when signal N killed it, 124 on --timeout). The
guest is restored from the level's snapshot of a booted guest (made on first use and
cached; proven again live), or booted when --data is given.

  --level LEVEL          v1, v2, v3 or v4 (x86-64-v3 and x86_64_v3 are accepted), or a near miss (v3-fma)
  --accel ACCEL          auto (default: KVM, else QEMU TCG, else Bochs for v4), tcg, kvm or bochs
  --timeout SECONDS      kill COMMAND after this long (default ${seconds(DEFAULTS.execTimeoutMs)}; timed from the host)
  --boot-timeout SECONDS give up on a guest that is not ready by then (default ${seconds(DEFAULTS.backends.tcg.bootTimeoutMs)} under TCG, ${seconds(DEFAULTS.backends.bochs.bootTimeoutMs)} under Bochs)
  --data NAME=DIR        attach DIR read-only at /mnt/NAME (repeatable; the guest is then booted)
  --cold-boot            boot the guest from scratch instead of restoring the level's snapshot
  --console-log PATH     keep the guest's serial console in PATH
  --quiet                print only COMMAND's output

Exit codes: COMMAND's own; 2 bad usage; 3 infrastructure or guest failure; 77 the
level cannot be provided on this host (skipped); 130/143 interrupted.`;

const EXEC_OPTIONS = {
  level: { type: 'string' },
  accel: { type: 'string' },
  timeout: { type: 'string' },
  'boot-timeout': { type: 'string' },
  data: { type: 'string', multiple: true },
  'console-log': { type: 'string' },
  'cold-boot': { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} as const;

type ExecValues = Values<typeof EXEC_OPTIONS>;

export const execCommand = defineCommand({
  name: 'exec',
  usage: EXEC_USAGE,
  options: EXEC_OPTIONS,
  commandLine: true,
  async run(values, command, context) {
    if (command.length === 0) throw new UsageError('exec: no command given; put it after --, e.g. levelgate exec --level v2 -- uname -m');
    const log = values.quiet ? () => {} : stderrLog;
    const timeoutMs = resolveSeconds(values.timeout, '--timeout') ?? DEFAULTS.execTimeoutMs;
    const { guest, level } = await bootGuest(values, context, log);
    try {
      const result = await guest.exec(command, { timeoutMs, onStdout: (chunk) => process.stdout.write(chunk), onStderr: (chunk) => process.stderr.write(chunk), signal: context.signal });
      for (const event of result.consoleEvents) log(`levelgate: console: ${event.kind}: ${event.line}`);
      await explainSigills(guest, level, command, result, context);
      return exitOf(result, timeoutMs, log);
    } finally {
      await guest.dispose().catch(reportError);
    }
  },
});

/** A guest pinned to --level, booted and proven, with what proved it logged. */
async function bootGuest(values: ExecValues, context: RunContext, log: (line: string) => void): Promise<{ guest: AgentGuest; level: LevelName }> {
  const target = resolveTarget(values.level);
  const bootTimeoutMs = resolveSeconds(values['boot-timeout'], '--boot-timeout');
  const opened = await openPinnedGuest({
    level: target.level,
    ...(target.nearMiss ? { target } : {}),
    accel: resolveAccel(values.accel),
    log,
    signal: context.signal,
    dataFolders: (values.data ?? []).map((d) => resolveDataDisk(d)),
    snapshot: !values['cold-boot'],
    ...(bootTimeoutMs ? { bootTimeoutMs } : {}),
    ...(values['console-log'] ? { consoleLog: values['console-log'] } : {}),
  });
  const { guest, choice } = opened;
  const proof = guest.proof;
  log(
    `levelgate: ${describeTarget(target)} guest ready in ${formatSeconds(guest.timings.bootToReadyMs)} (${choice.accel}: ${choice.why}), ` +
      `${opened.start === 'snapshot' ? 'restored from its snapshot' : 'booted'}; ` +
      `proven ${proof.proven} (cpuinfo ${proof.cpuinfoLevel}, glibc ${proof.glibcLevel}, canaries: ${proof.fidelity})`,
  );
  return { guest, level: target.level };
}

/** Every SIGILL explains itself, on stderr whatever --quiet says: it is the command's result. */
async function explainSigills(guest: AgentGuest, level: LevelName, command: readonly string[], result: { stderr: string; consoleEvents: readonly { kind: string; line: string }[] }, context: RunContext): Promise<void> {
  const records = await explainCommand(
    { argv: command, stderr: result.stderr, consoleLines: result.consoleEvents.filter((e) => e.kind === 'illegal-instruction').map((e) => e.line) },
    { exec: (argv) => guest.exec(argv, { timeoutMs: DEFAULTS.commandTimeoutMs, signal: context.signal }), level, fidelity: guest.proof.fidelity },
  );
  for (const r of records) process.stderr.write(`levelgate: SIGILL: ${r.line}\n`);
}

/** The command's status as exec's exit code: its own, 124 on --timeout, 127 when it could not start, 128+N for signal N. */
function exitOf(result: { command: string; timedOut: boolean; spawnFailed: boolean; signal: string | null; exitCode: number | null }, timeoutMs: number, log: (line: string) => void): number {
  if (result.timedOut) {
    log(`levelgate: ${result.command} timed out after ${formatSeconds(timeoutMs)} and was killed`);
    return 124;
  }
  if (result.spawnFailed) return 127;
  if (result.signal) {
    log(`levelgate: ${result.command} was killed by ${result.signal}`);
    return 128 + constants.signals[result.signal as NodeJS.Signals];
  }
  return result.exitCode ?? 1;
}
