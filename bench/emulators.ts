// Benchmark: the host's QEMU (Debian bookworm's 7.2) against a tools tree's (sid's
// 11.x), side by side in one run, alternating so both see the same load: a cold boot to
// a proven guest, a snapshot restore to the first command, package operations (five
// `rpm -qa`, one `dnf5 install` from the fixture disk) and whole catalog cells; then
// the level proof and canaries under each at v1, v2, v3, and a v4 cold boot under the
// host's Bochs and the tree's.
// Usage: npm run bench:emulators [-- --runs N --cell-runs N --bochs-runs N --level v3 --cell ID... --only-bochs --bochs lean|tree|PATH]
// (--only-bochs: the v4 Bochs comparison alone: cold boots to a proven guest, a workload
// of guest commands and a snapshot restore to a first command, the host's Bochs against
// --bochs: levelgate's lean build (default), the tools tree's, or a given binary).
// Prints a Markdown table for BENCHMARKS.md.
import { execSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { backendsWith } from '../harness/accel/backends.js';
import { DRIVERS } from '../harness/drivers/index.js';
import { hostQemu, type Emulator } from '../harness/guest/emulator.js';
import { ensureImage } from '../harness/image/build.js';
import type { AgentGuest } from '../harness/guest/agent-guest.js';
import { BochsGuest } from '../harness/guest/bochs-guest.js';
import { BOCHS_ROM, BOCHS_VGA_ROM, distroBochs, leanBochsProgram, type BochsProgram } from '../harness/guest/bochs-engine.js';
import { ensureLeanBochs } from '../harness/guest/bochs-build.js';
import { ensureBochsSnapshot } from '../harness/guest/bochs-snapshot.js';
import { debianPackageVersion } from '../harness/host/tools.js';
import { ensureToolsTree, toolsTreeBochs, toolsTreeEmulator } from '../harness/guest/tools-tree.js';
import type { LevelName } from '../harness/levels/table.js';
import { exactTarget } from '../harness/levels/targets.js';
import { planCells } from '../harness/plan/plan.js';
import { guestFixturePath, repoId } from '../harness/repos/catalog.js';
import { runCell } from '../harness/run/cell.js';
import { prepareRun, type Prepared } from '../harness/run/prepare.js';
import { stderrLog } from '../harness/util/log.js';
import { CATALOG } from '../scenarios/index.js';
import { KNOWN_ISSUES } from '../scenarios/known-issues.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'cell-runs': { type: 'string', default: '3' },
    level: { type: 'string', default: 'v3' },
    cell: { type: 'string', multiple: true },
    suite: { type: 'string', default: 'sid' },
    'skip-proofs': { type: 'boolean', default: false },
    'bochs-runs': { type: 'string', default: '1' },
    'only-bochs': { type: 'boolean', default: false },
    // The Bochs compared with the host's: lean (levelgate's build, default), tree (the tools tree's), or a binary's path (built without the debugger).
    bochs: { type: 'string', default: 'lean' },
  },
});
const onlyBochs = values['only-bochs'];
const runs = onlyBochs ? 0 : Number(values.runs);
const cellRuns = onlyBochs ? 0 : Number(values['cell-runs']);
const level = values.level as LevelName;
const cellIds = values.cell ?? [`upgrade-new-variant[${level},zypper]`];
const loadBefore = os.loadavg();
const uptimeBefore = execSync('uptime').toString().trim();

const tree = values.bochs !== 'tree' && onlyBochs ? undefined : await ensureToolsTree({ suite: values.suite, log: stderrLog });
const emulators: Emulator[] = onlyBochs || !tree ? [] : [await hostQemu(), await toolsTreeEmulator(tree)];
stderrLog(`emulators: ${emulators.map((e) => `${e.name} QEMU ${e.version}`).join(', ')}`);

// One prepared run per emulator: the same image, fixtures and host probes; snapshots per emulator.
const prepared = new Map<string, Prepared>();
for (const emulator of emulators) {
  const p = await prepareRun(CATALOG, 'tcg', { log: stderrLog, backends: backendsWith(emulator) });
  await p.guests.prepare([{ target: exactTarget(level), accel: 'tcg' }]);
  prepared.set(emulator.name, p);
}
const { artifacts: image, dataDisks } = onlyBochs ? { artifacts: await ensureImage({ log: stderrLog }), dataDisks: [] } : prepared.get(emulators[0]!.name)!;
const cells = planCells(CATALOG, { targets: [level] }).filter((c) => cellIds.includes(c.id));
if (cells.length !== cellIds.length) throw new Error(`unknown cell among ${cellIds.join(', ')}`);

type Figure = 'boot' | 'restore' | 'rpmqa' | 'install' | `cell:${string}`;
const samples = new Map<string, number[]>();
const record = (emulator: Emulator, figure: Figure, ms: number) => {
  const k = `${emulator.name}/${figure}`;
  samples.set(k, [...(samples.get(k) ?? []), Math.round(ms)]);
};
const verdicts = new Map<string, string[]>();

/** Guest commands timed after each Bochs boot: the package manager's start and database reads, as in a cell. */
const BOCHS_WORKLOAD = [['rpm', '-qa'], ['rpm', '-qa'], ['dnf5', '--version'], ['zypper', '--version']];

const scratch = await mkdtemp(path.join(os.tmpdir(), 'levelgate-bench-emulators-'));
const evidence = path.join(scratch, 'evidence');
const fixtureRepo = { id: repoId('upgrade-new-variant', 'base'), path: guestFixturePath('upgrade-new-variant', 'base') };

async function packageOperations(emulator: Emulator, guest: AgentGuest): Promise<void> {
  let started = performance.now();
  for (let i = 0; i < 5; i++) {
    const r = await guest.exec(['rpm', '-qa']);
    if (r.exitCode !== 0) throw new Error(`rpm -qa failed under ${emulator.name}: ${r.stderr}`);
  }
  record(emulator, 'rpmqa', performance.now() - started);
  for (const command of DRIVERS.dnf5.configureRepos([fixtureRepo]).commands) await guest.exec(command.argv, command.input !== undefined ? { input: command.input } : {});
  const install = DRIVERS.dnf5.operation('install', ['lgnewvar'])!;
  started = performance.now();
  const r = await guest.exec(install.argv, { timeoutMs: 300_000 });
  if (r.exitCode !== 0) throw new Error(`${install.argv.join(' ')} failed under ${emulator.name}: ${r.stderr}`);
  record(emulator, 'install', performance.now() - started);
}

for (let run = 0; run < runs; run++) {
  // Alternate which emulator goes first, so neither always meets the other's leftovers.
  for (const emulator of run % 2 ? [...emulators].reverse() : emulators) {
    const backend = backendsWith(emulator).tcg;
    {
      await using guest = await backend.boot({ image, level, tmpDir: scratch, dataDisks });
      record(emulator, 'boot', guest.timings.bootToReadyMs + guest.timings.proofMs);
      if (!guest.proof.ok) throw new Error(`${emulator.name}: the ${level} proof failed: ${guest.proof.problems.join('; ')}`);
    }
    const snapshot = await backend.snapshots!.ensure({ image, target: exactTarget(level), dataDisks, options: { log: stderrLog } });
    const started = performance.now();
    const disk = await snapshot.newDiskState(path.join(scratch, `disk-${emulator.name}-${run}`));
    await using guest = await snapshot.restore({ image, level, disk, tmpDir: scratch, dataDisks });
    await guest.exec(['true']);
    record(emulator, 'restore', performance.now() - started);
    await packageOperations(emulator, guest);
    stderrLog(`run ${run + 1}/${runs} ${emulator.name}: ${['boot', 'restore', 'rpmqa', 'install'].map((f) => `${f} ${samples.get(`${emulator.name}/${f}`)!.at(-1)} ms`).join(', ')}`);
  }
}

for (let run = 0; run < cellRuns; run++) {
  for (const emulator of run % 2 ? [...emulators].reverse() : emulators) {
    for (const cell of cells) {
      const result = await runCell(cell, { ...prepared.get(emulator.name)!, knownIssues: KNOWN_ISSUES, evidenceDir: evidence, today: new Date().toISOString().slice(0, 10) });
      record(emulator, `cell:${cell.id}`, result.timings.totalMs);
      const k = `${emulator.name}/${cell.id}`;
      verdicts.set(k, [...(verdicts.get(k) ?? []), result.verdict]);
      stderrLog(`cell run ${run + 1}/${cellRuns} ${emulator.name} ${cell.id}: ${result.verdict} ${result.timings.totalMs} ms`);
    }
  }
}

// Correctness: the proof (cpuinfo, glibc hwcaps, canaries) at v1, v2, v3 under each emulator.
/** "24 ok, 5 sigill": how many canaries ended each way. */
const tallyOf = (canaries: readonly { outcome: string }[]) => {
  const tally = new Map<string, number>();
  for (const c of canaries) tally.set(c.outcome, (tally.get(c.outcome) ?? 0) + 1);
  return [...tally].map(([o, n]) => `${n} ${o}`).join(', ');
};
const proofRows: string[] = [];
const canaryOutcomes = new Map<string, string[]>();
const sameAs = (reference: readonly string[], outcomes: readonly string[]) => {
  const differ = outcomes.filter((o, i) => o !== reference[i]);
  return differ.length === 0 && outcomes.length === reference.length ? `; each the same as under ${emulators[0]!.name}` : `; DIFFERENT from ${emulators[0]!.name}: ${differ.join(' ')}`;
};
if (!values['skip-proofs'] && !onlyBochs) {
  for (const emulator of emulators) {
    for (const l of ['v1', 'v2', 'v3'] as const) {
      await using guest = await backendsWith(emulator).tcg.boot({ image, level: l, tmpDir: scratch, dataDisks: [] });
      const p = guest.proof;
      const outcomes = p.canaries.map((c) => `${c.name}:${c.outcome}`);
      canaryOutcomes.set(`${emulator.name}/${l}`, outcomes);
      const counts = tallyOf(p.canaries);
      const same = emulator === emulators[0] ? '' : sameAs(canaryOutcomes.get(`${emulators[0]!.name}/${l}`) ?? [], outcomes);
      proofRows.push(`| ${emulator.name} (QEMU ${emulator.version}) | ${l} | ${p.ok ? 'ok' : `FAILED: ${p.problems.join('; ')}`} | ${p.cpuinfoLevel ?? '—'} / ${p.glibcLevel ?? '—'} | ${counts}${same} |`);
      stderrLog(`proof ${emulator.name} ${l}: ${p.ok ? 'ok' : p.problems.join('; ')}`);
    }
  }
}
const s = (xs: number[] | undefined) => (xs ? `${(median(xs) / 1000).toFixed(2)} s (${(Math.min(...xs) / 1000).toFixed(2)}–${(Math.max(...xs) / 1000).toFixed(2)})` : '—');

// Bochs (v4, which no QEMU emulates): the host's 2.7 against the tree's, cold boots to a proven guest.
const bochsRuns = Number(values['bochs-runs']);
const bochsRows: string[] = [];
if (bochsRuns > 0) {
  const other: BochsProgram =
    values.bochs === 'lean'
      ? leanBochsProgram(await ensureLeanBochs({ log: stderrLog }))
      : values.bochs === 'tree'
        ? toolsTreeBochs(tree!)
        : { name: 'given', argv0: [values.bochs], env: {}, romImage: BOCHS_ROM, vgaRomImage: BOCHS_VGA_ROM, version: values.bochs, debugger: false };
  const bochses: BochsProgram[] = [distroBochs((await debianPackageVersion('bochs')) ?? '?'), other];
  const label = (b: BochsProgram) => `${b.name} Bochs ${b.version}`;
  const restores = new Map<string, number[]>();
  const times = new Map<string, number[]>();
  const outcome = new Map<string, string>();
  const workload = new Map<string, number[]>();
  for (let run = 0; run < bochsRuns; run++) {
    for (const bochs of run % 2 ? [...bochses].reverse() : bochses) {
      const name = label(bochs);
      try {
        await using guest = await BochsGuest.boot({ image, level: 'v4', tmpDir: scratch, bochs });
        times.set(name, [...(times.get(name) ?? []), guest.timings.bootToReadyMs + guest.timings.proofMs]);
        // A workload of guest commands after the boot: what a v4 cell's time is made of.
        const started = performance.now();
        for (const argv of BOCHS_WORKLOAD) {
          const r = await guest.exec(argv, { timeoutMs: 600_000 });
          if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} failed under ${name}: ${r.stderr}`);
        }
        workload.set(name, [...(workload.get(name) ?? []), performance.now() - started]);
        outcome.set(name, guest.proof.ok ? `proof ok (canaries: ${tallyOf(guest.proof.canaries)})` : `proof FAILED: ${guest.proof.problems.join('; ')}`);
      } catch (error) {
        outcome.set(name, `did not boot: ${(error as Error).message.split('\n')[0]}`);
      }
      // A restore of this build's own snapshot (made once, keyed by the build) to the first answered command.
      try {
        const snapshot = await ensureBochsSnapshot({ image, level: 'v4', dataDisks: [], bochs }, { log: stderrLog });
        const started = performance.now();
        await using restored = await BochsGuest.restore({ image, level: 'v4', tmpDir: scratch, bochs }, snapshot);
        await restored.exec(['true']);
        restores.set(name, [...(restores.get(name) ?? []), performance.now() - started]);
      } catch (error) {
        outcome.set(name, `${outcome.get(name)}; restore failed: ${(error as Error).message.split('\n')[0]}`);
      }
      stderrLog(`bochs run ${run + 1}/${bochsRuns} ${name}: restore ${Math.round(restores.get(name)?.at(-1) ?? 0) || '—'} ms, ${times.get(name)?.at(-1) ?? '—'} ms, workload ${Math.round(workload.get(name)?.at(-1) ?? 0) || '—'} ms; ${outcome.get(name)}`);
    }
  }
  for (const bochs of bochses) {
    const name = label(bochs);
    bochsRows.push(`| ${name} | ${s(times.get(name))} | ${s(workload.get(name))} | ${s(restores.get(name))} | ${outcome.get(name)} |`);
  }
}
await rm(scratch, { recursive: true, force: true });

const figures: [Figure, string][] = [
  ['boot', `cold boot → proven ${level} guest (median of ${runs})`],
  ['restore', `snapshot restore → first command (median of ${runs})`],
  ['rpmqa', `five \`rpm -qa\` (median of ${runs})`],
  ['install', `\`dnf5 -y install lgnewvar\` from the fixture disk (median of ${runs})`],
  ...cells.map((c): [Figure, string] => [`cell:${c.id}`, `cell ${c.id}, total (median of ${cellRuns})`]),
];
const ratio = (a: Emulator, b: Emulator, f: Figure) => {
  const x = samples.get(`${a.name}/${f}`);
  const y = samples.get(`${b.name}/${f}`);
  return x && y ? `${(median(y) / median(x)).toFixed(2)}` : '—';
};
/** The QEMU comparison's table (none with --only-bochs). */
const qemuTable = ([a, b]: readonly Emulator[]): string[] =>
  a && b
    ? [
        `| figure | ${a.name}: QEMU ${a.version}, median (min–max) | ${b.name}: QEMU ${b.version}, median (min–max) | ${b.name} / ${a.name} |`,
        '|---|---|---|---|',
        ...figures.map(([f, title]) => `| ${title} | ${s(samples.get(`${a.name}/${f}`))} | ${s(samples.get(`${b.name}/${f}`))} | ${ratio(a, b, f)} |`),
        '',
      ]
    : [];
process.stdout.write(
  [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}; load before ${loadBefore.map((l) => l.toFixed(1)).join(' ')}, after ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (\`uptime\` before: ${uptimeBefore}); image ${image.digest}; one guest at a time, the two emulators alternating.`,
    ...(tree ? [`Tools tree ${tree.key} (${Object.entries(tree.versions).map(([p, v]) => `${p} ${v}`).join(', ')}).`] : []),
    '',
    ...qemuTable(emulators),
    ...cells.filter(() => cellRuns > 0).map((c) => `Verdicts of ${c.id}: ${emulators.map((e) => `${e.name} ${verdicts.get(`${e.name}/${c.id}`)?.join(', ')}`).join('; ')}.`),
    '',
    ...(proofRows.length ? ['| emulator | level | proof | cpuinfo / glibc level | canaries |', '|---|---|---|---|---|', ...proofRows, ''] : []),
    ...(bochsRows.length ? [`| Bochs | v4 cold boot → proven guest, median of ${bochsRuns} (min–max) | then ${BOCHS_WORKLOAD.map((a) => `\`${a.join(' ')}\``).join(', ')} | snapshot restore → \`true\` answered | last outcome |`, '|---|---|---|---|---|', ...bochsRows, ''] : []),
  ].join('\n'),
);
