// `levelgate audit`: which x86-64 level the code of packages, repositories, guest images
// and ELF files needs with and without a CPU check, against what their arch claims; with
// --run, each RPM also installed and run in a pinned guest, its SIGILLs explained and
// reconciled with the static findings; a line per package, JSON, JUnit and HTML
// reports, one exit code.
import { readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dir } from 'tmp-promise';
import { chooseAccel } from '../harness/accel/choose.js';
import { probeForRequest } from '../harness/accel/probe.js';
import { auditTotals, runAudit } from '../harness/audit/audit.js';
import { ensurePackagesDisk } from '../harness/audit/dynamic/packages-disk.js';
import { commandsByPackage, planRuns, type RunPlan } from '../harness/audit/dynamic/plan.js';
import { withRun } from '../harness/audit/dynamic/reconcile.js';
import { parseLevels, parseNearMisses, planBisect, type BisectRequest } from '../harness/audit/dynamic/bisect-plan.js';
import { bisectResult, withBisect } from '../harness/audit/dynamic/bisect-reconcile.js';
import { runBisect } from '../harness/audit-run/bisect-run.js';
import { bisectLine } from '../harness/audit/dynamic/bisect-text.js';
import { readRoles } from '../harness/audit/dynamic/elf-roles.js';
import { ensureLoader } from '../harness/audit/dynamic/loader.js';
import type { PackagesDisk } from '../harness/audit/dynamic/packages-disk.js';
import type { AccelChoice } from '../harness/accel/choose.js';
import { runPackages } from '../harness/audit-run/run-packages.js';
import { AUDIT_EXIT, auditExitCode } from '../harness/audit/findings.js';
import type { AuditRun } from '../harness/audit/types.js';
import { ensureImage, type ImageArtifacts } from '../harness/image/build.js';
import type { CpuTarget } from '../harness/levels/targets.js';
import { BackendGuests } from '../harness/run/session.js';
import { writeAuditHtml } from '../harness/audit/report-html.js';
import { writeAuditJson } from '../harness/audit/report-json.js';
import { writeAuditJUnit } from '../harness/audit/report-junit.js';
import { packageLine, runLine } from '../harness/audit/report-text.js';
import { archLevel } from '../harness/levels/arch.js';
import { UsageError } from '../harness/util/errors.js';
import { stderrLog, type Log } from '../harness/util/log.js';
import { defineCommand } from './command.js';
import { resolveAccel, resolveCount, resolveTarget } from './resolve.js';
import { exitCodeFor } from './run-context.js';
import { ensureHostPackages } from '../harness/host/install.js';

export const AUDIT_USAGE = `usage: levelgate audit PATH... [--json PATH] [--junit PATH] [--html PATH] [--jobs N] [--arch ARCH] [--strict]
                      [--run LEVEL|auto|bisect [--command NAME=ARGV]... [--commands FILE] [--accel ACCEL]]
                      [--levels LIST] [--near-misses | --near-miss NAME,...]

Decodes the x86 code of every ELF file in PATH (iced-x86) and reports, per file, the
ISA extensions it uses with counts and example instructions, the lowest x86-64 level
that runs them all, and the same for the code that runs without a CPU check, told apart
from code reached only after one (glibc-hwcaps directories, IFUNC candidates, variant
names, functions reached only from CPU-checking code) and from code the analysis cannot
place (reached only through pointers in data): see docs/audit.md.
A package whose code that runs without a check needs more than its arch claims
(x86_64 → v1, x86_64_v2 → v2, x86_64_v3 → v3; noarch → v1) is a finding: sure when
an entry point reaches that code with no check on the way (or the file checks the CPU
nowhere), suspected when it is reached only past tests of run-time flags a CPU check
stores in a structure (libgcrypt's use_avx2), or when only code the analysis cannot
place needs more.

PATH is any of:
  an RPM file          unpacked with bsdtar; its arch is the claim
  a repository         a directory with repodata/ (createrepo_c): every package in it
  a guest image        a raw ext4 image (root.img), read with debugfs; owners from its
                       rpm database and dpkg's lists (Debian amd64 claims x86_64)
  an installed tree    a directory with var/lib/rpm or var/lib/dpkg: the same, in place
  an ELF file or a directory of them   claimed at --arch

Options:
  --json PATH     the whole audit as JSON
  --junit PATH    JUnit XML: a testcase per package, a finding is a <failure>
  --html PATH     a self-contained HTML page
  --jobs N        worker threads decoding at once (default: one per core, ${os.availableParallelism()} here)
  --arch ARCH     the arch claimed for files in no package (default x86_64)
  --strict        suspected findings fail too (exit 1), as in gate --audit

Running the packages (RPMs only):
  --run LEVEL     install each package (rpm -i --nodeps --noscripts --ignorearch) in a
                  guest pinned to LEVEL (v1..v4 or a near miss), restored from a snapshot
                  for each package, and run its programs in /usr/bin, /usr/sbin, /bin and
                  /sbin with --version; every SIGILL comes back with its forensics and is
                  reconciled with the static findings (confidence static, confirmed, or
                  unpredicted). --run auto: each package at the lowest level its arch
                  claims (x86_64 → v1, x86_64_v3 → v3, noarch → v1)
  --command NAME=ARGV   run ARGV instead for package NAME (repeatable; words, or a JSON
                  array of strings; never through a shell)
  --commands FILE one NAME=ARGV a line (# starts a comment)
  --accel ACCEL   auto (default), tcg, kvm or bochs

Finding the level a program really needs (RPMs, ELF files, directories, repositories):
  --run bisect    run each program (--version, or --command) and load each library
                  (through a loader: dlopen, then every exported symbol resolved) at
                  v1, then v2, v3 and v4, each level in one guest restored from its
                  snapshot for all of them; a program that ran is not run again above.
                  v4 only for what did not run at v3, and only where the host has a v4
                  backend. Reports the lowest level each runs at, the instruction and
                  extension that kill it one level below (with forensics), and whether
                  the static audit's level agrees, and if not which one is off and why
  --levels LIST   the levels to try (default v1,v2,v3,v4)
  --near-misses   also run each at the near misses of its lowest level (v3-fma, …)
  --near-miss NAME[,NAME…]
                  only these near misses (a guest each; repeatable), for the
                  programs whose lowest level they are one feature short of

Exit: 0 no finding; 1 a finding (sure, or confirmed or revealed by a trap; with --strict
also a suspected one), or a package
or file that could not be audited (damaged ELF, not an RPM, does not unpack); 2 bad
usage (a path that does not exist); 3 infrastructure (bsdtar or debugfs missing; with
--run, a package that could not run for want of a guest, and no finding); 130/143
interrupted.`;

export const auditCommand = defineCommand({
  name: 'audit',
  usage: AUDIT_USAGE,
  positionals: true,
  options: {
    json: { type: 'string' },
    junit: { type: 'string' },
    html: { type: 'string' },
    jobs: { type: 'string' },
    arch: { type: 'string' },
    run: { type: 'string' },
    command: { type: 'string', multiple: true },
    commands: { type: 'string' },
    accel: { type: 'string' },
    strict: { type: 'boolean' },
    levels: { type: 'string' },
    'near-misses': { type: 'boolean' },
    'near-miss': { type: 'string', multiple: true },
  },
  run: async (values, positionals, context) => {
    if (positionals.length === 0) throw new UsageError('audit: name at least one RPM, repository, image, directory or ELF file', { hint: 'levelgate audit --help' });
    for (const p of positionals) {
      const exists = await stat(p).then(
        () => true,
        () => false,
      );
      if (!exists) throw new UsageError(`audit: '${p}' does not exist`, { hint: 'give the path of an RPM, a repository directory, a guest image or an ELF file' });
    }
    // bsdtar and debugfs unpack RPMs and images: installed on first use, as gate installs what it needs.
    await ensureHostPackages(['audit'], stderrLog);
    const jobs = resolveCount(values.jobs, '--jobs', 1) ?? os.availableParallelism();
    const looseArch = values.arch ?? 'x86_64';
    if (archLevel(looseArch) === undefined) throw new UsageError(`--arch: '${looseArch}' is not an x86-64 RPM arch; known: noarch, x86_64, x86_64_v2, x86_64_v3, x86_64_v4`);
    if ((values.command || values.commands || values.accel) && values.run === undefined) throw new UsageError('--command, --commands and --accel go with --run', { hint: 'e.g. levelgate audit --run v2 --command "lgbad=lgbad --help" PKG.rpm' });
    const bisect = values.run === 'bisect';
    if ((values.levels !== undefined || values['near-misses'] || values['near-miss']) && !bisect) throw new UsageError('--levels, --near-misses and --near-miss go with --run bisect', { hint: 'e.g. levelgate audit --run bisect --levels v1,v2,v3 PROGRAM' });
    const levels = parseLevels(values.levels);
    const nearMisses = parseNearMisses(values['near-misses'] === true, values['near-miss']);
    const target: CpuTarget | 'auto' | 'bisect' | undefined = values.run === undefined ? undefined : values.run === 'auto' || values.run === 'bisect' ? values.run : runTarget(values.run);
    const accel = resolveAccel(values.accel);
    const commands = commandsByPackage([...(values.commands ? await commandLines(values.commands) : []), ...(values.command ?? [])]);
    const statically = await runAudit(positionals, {
      jobs,
      looseArch,
      log: stderrLog,
      signal: context.signal,
      ...(target ? {} : { onPackage: (p) => process.stdout.write(`${packageLine(p)}\n`) }),
    });
    const t0 = statically.totals;
    const staticLine = `audit: ${t0.packages} packages, ${t0.elfFiles} ELF files, ${(t0.codeBytes / 1e6).toFixed(1)} MB of code in ${(statically.durationMs / 1000).toFixed(1)} s (${t0.mbPerSecond} MB/s, ${jobs} worker${jobs === 1 ? '' : 's'})`;
    const run =
      !target || statically.interrupted
        ? statically
        : target === 'bisect'
          ? await bisectThem(statically, { levels, nearMisses, commands }, accel, stderrLog, context.signal)
          : await runThem(statically, planRuns(statically.packages, { target, commands }), accel, stderrLog, context.signal);
    if (target) for (const p of run.packages) process.stdout.write(`${packageLine(p)}${p.run ? `\n        ${runLine(p.run)}` : ''}${(p.bisect ?? []).map((b) => `\n        ${bisectLine(b)}`).join('')}\n`);
    const t = run.totals;
    const ran = run.packages.filter((p) => p.run);
    process.stdout.write(
      `${staticLine}: ${t.findings} with findings, ${t.suspects} only suspected, ${t.errors} not auditable${target ? `; ${target === 'bisect' ? bisectSummary(run) : `ran ${ran.length} at ${target === 'auto' ? 'the level each arch claims' : target.name}`} in ${((run.durationMs - statically.durationMs) / 1000).toFixed(1)} s, ${ran.reduce((n, p) => n + (p.run?.traps.length ?? 0), 0)} SIGILL` : ''}\n`,
    );
    for (const note of run.notes) process.stderr.write(`levelgate: note: ${note}\n`);
    const reports: [string, string | undefined, (file: string) => Promise<void>][] = [
      ['json', values.json, (f) => writeAuditJson(run, f)],
      ['junit', values.junit, (f) => writeAuditJUnit(run, f)],
      ['html', values.html, (f) => writeAuditHtml(run, f)],
    ];
    for (const [name, file, write] of reports) {
      if (!file) continue;
      await write(path.resolve(file));
      process.stdout.write(`${name.padEnd(6)} ${path.resolve(file)}\n`);
    }
    if (run.interrupted) return exitCodeFor(new Error('interrupted'), context);
    const code = auditExitCode(
      run.packages.map((p) => p.verdict),
      values.strict === true,
    );
    const unavailable = ran.some((p) => p.run?.infrastructure) || (bisect && run.packages.some((p) => p.bisect?.some((b) => b.runsAt === undefined && b.attempts.every((a) => a.infrastructure))));
    return code === AUDIT_EXIT.ok && unavailable ? AUDIT_EXIT.infrastructure : code;
  },
});

/** --run LEVEL: a level or near miss; the error also names auto and bisect. */
function runTarget(value: string): CpuTarget {
  try {
    return resolveTarget(value, '--run');
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}; or auto (each at the level its arch claims) or bisect (the lowest level each program runs at)`);
    throw error;
  }
}

/** --commands FILE: a NAME=ARGV a line; blank lines and # comments are skipped. */
async function commandLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw new UsageError(`--commands: cannot read '${file}': ${error.message}`);
  });
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** What audit --run and --run bisect share: the image, the packages' disk (with loose files and the loader), guests, a scratch directory. */
async function withRunGuests<T>(
  files: readonly string[],
  log: Log,
  signal: AbortSignal,
  use: (run: { guests: BackendGuests; disk: PackagesDisk; image: ImageArtifacts; scratch: string }) => Promise<T>,
): Promise<T> {
  await ensureHostPackages(['guests', 'image'], log);
  const image = await ensureImage({ log, signal });
  const disk = await ensurePackagesDisk(files, { log, signal });
  const guests = new BackendGuests({ image, dataDisks: [disk.disk], snapshots: true, log, signal });
  const scratch = await dir({ prefix: 'levelgate-audit-run-', unsafeCleanup: true });
  try {
    return await use({ guests, disk, image, scratch: scratch.path });
  } finally {
    await scratch.cleanup();
  }
}

/**
 * audit --run: the packages' disk, one snapshot per CPU (booted and proven once, cached
 * by the packages' content), each package restored, installed and run in turn; the
 * static records reconciled with what ran.
 */
async function runThem(statically: AuditRun, plan: RunPlan, accel: ReturnType<typeof resolveAccel>, log: Log, signal: AbortSignal): Promise<AuditRun> {
  for (const s of plan.skipped) log(`audit --run: ${s.id}: ${s.why}`);
  const started = performance.now();
  const packages = plan.groups.flatMap((g) => g.packages);
  if (packages.length === 0) return { ...statically, run: runName(plan) };
  const targets: CpuTarget[] = plan.groups.map((g) => g.target);
  return withRunGuests(
    packages.map((p) => p.file),
    log,
    signal,
    async ({ guests, disk, image, scratch }) => {
      const probes = await probeForRequest(accel, targets, image);
      const runs = await runPackages(plan, { guests, accel: (name) => chooseAccel(name, accel, probes), guestPath: disk.guestPath, scratch, signal, log });
      const reconciled = statically.packages.map((p) => {
        const r = p.file ? runs.get(p.file) : undefined;
        return r ? withRun(p, r) : p;
      });
      const durationMs = statically.durationMs + Math.round(performance.now() - started);
      return { ...statically, packages: reconciled, durationMs, totals: auditTotals(reconciled, statically.durationMs), run: runName(plan), interrupted: signal.aborted };
    },
  );
}

const runName = (plan: RunPlan): string => [...new Set(plan.groups.map((g) => g.target.name))].join(', ') || 'nothing';

/** audit --run bisect: every program and library, level by level in restored guests (harness/audit/dynamic/bisect.ts). */
async function bisectThem(statically: AuditRun, request: BisectRequest, accel: ReturnType<typeof resolveAccel>, log: Log, signal: AbortSignal): Promise<AuditRun> {
  const started = performance.now();
  const loose = statically.packages.filter((p) => p.inputKind === 'file' || p.inputKind === 'directory').flatMap((p) => p.files.filter((f) => f.status === 'audited').map((f) => f.path));
  const roles = await readRoles(loose);
  const rpms = statically.packages.flatMap((p) => (p.manager === 'rpm' && p.file && !p.problem ? [p.file] : []));
  const loader = await ensureLoader({ log, signal });
  return withRunGuests([loader, ...rpms, ...roles.keys()], log, signal, async ({ guests, disk, image, scratch }) => {
    // Each CPU is probed when a subject first needs it: v4 (a Bochs boot on most hosts) only when something failed at v3.
    const choose = async (target: CpuTarget): Promise<AccelChoice> => chooseAccel(target.name, accel, await probeForRequest(accel, [target], image));
    const plan = planBisect(statically.packages, request, roles, { guestPath: disk.guestPath, loader: disk.guestPath(loader) });
    for (const s of plan.skipped) log(`audit --run bisect: ${s.id}: ${s.why}`);
    const done = await runBisect(plan.subjects, { guests, accel: choose, guestPath: disk.guestPath, levels: request.levels, nearMisses: request.nearMisses, scratch, signal, log });
    const files = new Map(statically.packages.flatMap((p) => p.files.map((f) => [`${p.id}\0${f.path}`, f] as const)));
    const results = plan.subjects.map((s, i) => bisectResult(s, done.attempts[i]!, done.nearMisses[i]!, files.get(`${s.packageId}\0${s.path}`), request.levels));
    const packages = statically.packages.map((p) => withBisect(p, plan.subjects, results));
    for (const [name, n] of Object.entries(done.restores)) log(`audit --run bisect: ${name}: ${n} guest${n === 1 ? '' : 's'} restored, ${((done.targetMs[name] ?? 0) / 1000).toFixed(1)} s`);
    const durationMs = statically.durationMs + Math.round(performance.now() - started);
    return { ...statically, packages, durationMs, totals: auditTotals(packages, statically.durationMs), run: 'bisect', bisectCost: { restores: done.restores, targetMs: done.targetMs }, interrupted: signal.aborted };
  });
}

const bisectSummary = (run: AuditRun): string => {
  const all = run.packages.flatMap((p) => p.bisect ?? []);
  const disagree = all.filter((b) => b.reconciliation.agreement === 'static-higher' || b.reconciliation.agreement === 'static-lower').length;
  return `bisected ${all.length} program${all.length === 1 ? '' : 's'} and librar${all.length === 1 ? 'y' : 'ies'} (${disagree} where static and dynamic disagree)`;
};
