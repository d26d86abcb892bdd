// Benchmark: what `levelgate exec --level vN -- true` costs a developer, warm. Whole
// process (wall and CPU, from outside, as a user runs it), then where the time goes,
// phase by phase, in a fresh Node process doing what exec does: start-up, loading the
// command's modules, the image lookup, the accelerator choice (cached probes), the
// snapshot lookup, restore to answering, the live proof, the command, the teardown.
// Usage: npm run bench:exec [-- --runs N --level v2 --cli PATH]   (prints Markdown tables)
// --cli: another build's dist/runners/cli.js, measured alternately with this one (before/after).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median } from './median.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ownCli = path.resolve(here, '../runners/cli.js');
const PHASES = ['node start-up', 'loading modules', 'image lookup', 'accelerator choice', 'snapshot lookup', 'restore → answering', 'live proof', 'the command', 'teardown'] as const;
type Phase = (typeof PHASES)[number];

/** The child: does what `exec` does, timing each phase; prints one JSON line. */
async function phases(level: string): Promise<void> {
  const marks: Partial<Record<Phase, number>> = { 'node start-up': performance.now() };
  let t = performance.now();
  const lap = (phase: Phase) => {
    const now = performance.now();
    marks[phase] = now - t;
    t = now;
  };
  const [{ ensureImage }, { placePinned }, { exactTarget }] = await Promise.all([
    import('../harness/image/build.js'),
    import('../harness/accel/pinned.js'),
    import('../harness/levels/targets.js'),
    import('../runners/exec.js'),
  ]);
  lap('loading modules');
  const image = await ensureImage();
  lap('image lookup');
  const target = exactTarget(level as 'v1');
  const choice = await placePinned(target, 'auto', image);
  if (!choice.accel) throw new Error(`no accelerator provides ${level}: ${choice.skipReason}`);
  lap('accelerator choice');
  const snapshots = choice.backend.snapshots;
  if (!snapshots) throw new Error(`${choice.accel} has no snapshots`);
  const snapshot = await snapshots.ensure({ image, target, dataDisks: [], options: {} });
  lap('snapshot lookup');
  const guest = await snapshot.restore({ image, level: target.level });
  t = performance.now();
  marks['restore → answering'] = guest.timings.bootToReadyMs;
  marks['live proof'] = guest.timings.proofMs;
  await guest.exec(['true']);
  lap('the command');
  await guest.dispose();
  lap('teardown');
  process.stdout.write(`${JSON.stringify(marks)}\n`);
}

function run(file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { maxBuffer: 1 << 24 }, (error, stdout, stderr) => (error ? reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`)) : resolve({ stdout, stderr })));
  });
}

/** One whole `exec` process: wall and CPU (user + system, the QEMU it waited for included) from GNU time. */
async function whole(cli: string, level: string, scratch: string): Promise<{ wallS: number; cpuS: number }> {
  const out = path.join(scratch, 'time');
  await run('/usr/bin/time', ['-f', '%e %U %S', '-o', out, process.execPath, cli, 'exec', '--level', level, '--quiet', '--', 'true']);
  const [wall, user, system] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wallS: wall!, cpuS: user! + system! };
}

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' }, level: { type: 'string', default: 'v2' }, cli: { type: 'string' }, phases: { type: 'boolean', default: false } } });
if (values.phases) {
  await phases(values.level);
} else {
  if (!existsSync('/usr/bin/time')) throw new Error('bench:exec needs GNU time (/usr/bin/time, Debian package time) for the CPU of the whole process');
  const runs = Number(values.runs);
  const level = values.level;
  const clis = [{ name: 'this build', cli: ownCli }, ...(values.cli ? [{ name: path.resolve(values.cli), cli: path.resolve(values.cli) }] : [])];
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'levelgate-bench-exec-'));
  try {
    // A first run of each makes what a warm run finds (the snapshot, the probe answers).
    for (const { cli } of clis) await whole(cli, level, scratch);
    const samples = new Map(clis.map((c) => [c.name, { wall: [] as number[], cpu: [] as number[], load: [] as number[] }]));
    for (let i = 0; i < runs; i++) {
      for (const { name, cli } of clis) {
        const load = os.loadavg()[0]!;
        const { wallS, cpuS } = await whole(cli, level, scratch);
        const s = samples.get(name)!;
        s.wall.push(wallS);
        s.cpu.push(cpuS);
        s.load.push(load);
        process.stderr.write(`${name} run ${i + 1}/${runs}: ${wallS.toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU, load ${load.toFixed(1)}\n`);
      }
    }
    const range = (xs: readonly number[], digits = 2) => `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;
    const lines = [`\`levelgate exec --level ${level} --quiet -- true\`, ${runs} runs each, warm; CPU: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}`, '', '| build | wall, s | CPU (user + system), s | host load (1 min) |', '|---|---|---|---|'];
    for (const [name, s] of samples) lines.push(`| ${name} | ${range(s.wall)} | ${range(s.cpu)} | ${range(s.load, 1)} |`);
    const breakdown: Record<string, number[]> = {};
    const loads: number[] = [];
    for (let i = 0; i < runs; i++) {
      loads.push(os.loadavg()[0]!);
      const { stdout } = await run(process.execPath, [fileURLToPath(import.meta.url), '--phases', '--level', level]);
      const marks = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, number>;
      for (const [phase, ms] of Object.entries(marks)) (breakdown[phase] ??= []).push(ms);
    }
    lines.push('', `Where the time goes (this build, ${runs} runs in a fresh Node process each, host load ${range(loads, 1)}):`, '', '| phase | ms, median (min–max) |', '|---|---|');
    for (const phase of PHASES) lines.push(`| ${phase} | ${range(breakdown[phase] ?? [0], 0)} |`);
    const total = PHASES.map((p) => median(breakdown[p] ?? [0])).reduce((a, b) => a + b, 0);
    lines.push(`| **sum of medians** | ${total.toFixed(0)} |`);
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
