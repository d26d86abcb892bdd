// `levelgate repro SCENARIO --level L [--driver D] [--keep]`: one cell with live
// output, the exact emulator command line and a one-line rerun command; with --keep the
// guest stays up after the last step with an interactive shell until Ctrl-C. It exits
// with the cell's verdict (Ctrl-C on a kept guest included).
import { planCells } from '../harness/plan/plan.js';
import { cellLine } from '../harness/report/terminal.js';
import { countVerdicts, exitCodeOf } from '../harness/results/summary.js';
import { PooledInstallAuditor } from '../harness/audit/install-auditor.js';
import { INTERRUPTED, runCell } from '../harness/run/cell.js';
import type { CellResult } from '../harness/results/types.js';
import { prepareRun } from '../harness/run/prepare.js';
import { UsageError } from '../harness/util/errors.js';
import { stderrLog } from '../harness/util/log.js';
import { defineCommand } from './command.js';
import { resolveImage, resolveProject } from '../harness/config/project.js';
import { runNameOf } from '../harness/config/run-project.js';
import { resolveAccel, resolveDriver, resolveTarget } from './resolve.js';
import { stoppedExitCode } from './run-context.js';

export const REPRO_USAGE = `usage: levelgate repro SCENARIO --level LEVEL [--driver NAME] [--accel ACCEL] [--image NAME|PATH] [--keep] [--cold-boot] [--evidence DIR] [--config PATH] [--repo NAME=DIR]... [--audit]

Runs one cell of the catalog with every command and its output shown as it runs,
prints the emulator's command line and the command that reruns it. --driver defaults to
the scenario's first driver. --keep leaves the guest running after the last step,
with an interactive shell to attach to, until Ctrl-C. --cold-boot boots the guest from
scratch instead of restoring the snapshot of a booted, proven guest. --image runs it in a
distribution's own cloud image (see levelgate gate --help). --audit audits every package
a step installs against the guest's level, as gate --audit does.`;

/**
 * repro's exit code: its cell's verdict, as the gate's (Ctrl-C that ends a kept guest
 * does not change it); a cell stopped before it had a verdict exits as interrupted.
 */
export function reproExitCode(result: CellResult, stoppedBy: NodeJS.Signals | undefined): number {
  if (stoppedBy && result.verdict === 'error' && result.reason === INTERRUPTED) return stoppedExitCode(stoppedBy);
  return exitCodeOf({ counts: countVerdicts([result]) });
}

export const reproCommand = defineCommand({
  name: 'repro',
  usage: REPRO_USAGE,
  positionals: true,
  options: {
    level: { type: 'string' },
    driver: { type: 'string' },
    accel: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'cold-boot': { type: 'boolean', default: false },
    image: { type: 'string' },
    evidence: { type: 'string' },
    config: { type: 'string' },
    repo: { type: 'string', multiple: true },
    'variant-audit': { type: 'boolean', default: false },
    audit: { type: 'boolean', default: false },
  },
  run: async (values, positionals, context) => {
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const resolved = await resolveProject(process.cwd(), { ...(values.config ? { config: values.config } : {}), ...(values.repo ? { repo: values.repo } : {}), variantAudit: values['variant-audit'] });
    const CATALOG = resolved.scenarios;
    if (positionals.length !== 1) throw new UsageError(`repro: name one scenario; known: ${CATALOG.map((s) => s.id).join(', ')}`);
    const target = resolveTarget(values.level);
    const accel = resolveAccel(values.accel);
    planCells(CATALOG, { scenarios: positionals }); // names the known scenarios when this one is unknown
    const scenario = CATALOG.find((s) => s.id === positionals[0])!;
    const driver = values.driver !== undefined ? resolveDriver(values.driver) : scenario.drivers[0]!;
    if (!scenario.drivers.includes(driver)) throw new UsageError(`--driver: scenario ${scenario.id} runs with ${scenario.drivers.join(', ')}, not ${driver}`);
    const image = resolveImage(values.image, resolved.project, process.cwd());
    // Named as the gate names it (its image's or project's name ends the id).
    const name = runNameOf(resolved, image);
    const cell = planCells(CATALOG, { scenarios: positionals, targets: [target.name], drivers: [driver], ...(name ? { name } : {}) })[0];
    if (!cell) throw new UsageError(`scenario ${scenario.id} does not run at ${target.name}; its levels: ${(scenario.levels ?? ['v1', 'v2', 'v3', 'v4']).join(', ')}`);

    const prepared = await prepareRun(resolved.fixtureScenarios, accel, { log: stderrLog, signal: context.signal, snapshots: !values['cold-boot'], attached: resolved.attached, targets: [target], ...(image ? { image: { request: image, levels: [target.level] } } : {}) });
    out(`levelgate repro: ${cell.id} — ${scenario.title}`);
    const installAudit = values.audit ? new PooledInstallAuditor(1, context.signal) : undefined;
    const result = await runCell(cell, {
      ...(installAudit ? { installAudit } : {}),
      ...prepared,
      knownIssues: resolved.knownIssues,
      evidenceDir: values.evidence ?? 'reports/repro',
      today: new Date().toISOString().slice(0, 10),
      signal: context.signal,
      accelRequest: accel,
      shell: values.keep,
      hooks: {
        onGuest: (_, guest) =>
          out(
            `\nguest ${guest.facts.id} at ${guest.facts.requestedLevel} (${guest.facts.accel}), proven ${guest.proof.proven}, fidelity ${guest.proof.fidelity}\n` +
              `${guest.facts.emulator}: ${guest.commandLine}\nconsole: ${guest.console.path}`,
          ),
        onStepStart: (_, index, title) => out(`\n── step ${index}: ${title}`),
        onCommand: (_, command) => out(`$ ${command}`),
        onOutput: (_, chunk, stream) => (stream === 'stdout' ? process.stdout : process.stderr).write(chunk),
        onForensics: (_, line) => out(`SIGILL: ${line}`),
        onStepEnd: (_, step) => {
          out(`installed: ${step.installedAfter.join(' ') || 'nothing'}`);
          for (const check of step.checks) out(`${check.status === 'pass' ? '  ok  ' : check.status === 'skip' ? '  SKIP' : '  FAIL'} ${check.check}: expected ${check.expected}, got ${check.actual}`);
        },
        beforeTeardown: async (_, guest) => {
          if (!values.keep) return;
          const socket = await guest.openShell();
          out(`\nThe guest stays up. Attach to its shell:\n  socat -,raw,echo=0 UNIX-CONNECT:${socket}\n(socat: apt-get install socat). Stop it with Ctrl-C here; nothing is left behind.`);
          await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
        },
      },
    }).finally(() => installAudit?.close());
    for (const step of result.steps) for (const check of step.checks.filter((c) => c.kind === 'audit')) out(`${check.status === 'pass' ? '  ok  ' : check.status === 'skip' ? '  SKIP' : '  FAIL'} step ${step.index}: ${check.check}: expected ${check.expected}, got ${check.actual}`);
    out(`\n${cellLine(result)}`);
    for (const file of result.attachments) out(`evidence: ${file}`);
    out(`rerun: ${result.repro}`);
    return reproExitCode(result, context.stoppedBy());
  },
});
