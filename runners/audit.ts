// `levelgate audit`: which x86-64 level the code of packages, repositories, guest images
// and ELF files needs with and without a CPU check, against what their arch claims; a
// line per package, JSON, JUnit and HTML reports, one exit code.
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runAudit } from '../harness/audit/audit.js';
import { auditExitCode } from '../harness/audit/findings.js';
import { writeAuditHtml } from '../harness/audit/report-html.js';
import { writeAuditJson } from '../harness/audit/report-json.js';
import { writeAuditJUnit } from '../harness/audit/report-junit.js';
import { packageLine } from '../harness/audit/report-text.js';
import { archLevel } from '../harness/levels/arch.js';
import { UsageError } from '../harness/util/errors.js';
import { stderrLog } from '../harness/util/log.js';
import { defineCommand } from './command.js';
import { resolveCount } from './resolve.js';
import { exitCodeFor } from './run-context.js';
import { ensureHostPackages } from '../harness/host/install.js';

export const AUDIT_USAGE = `usage: levelgate audit PATH... [--json PATH] [--junit PATH] [--html PATH] [--jobs N] [--arch ARCH]

Decodes the x86 code of every ELF file in PATH (iced-x86) and reports, per file, the
ISA extensions it uses with counts and example instructions, the lowest x86-64 level
that runs them all, and the same for the code that runs without a CPU check, told apart
from code reached only after one (glibc-hwcaps directories, IFUNC candidates, variant
names, functions reached only from CPU-checking code: see the README's "ISA audit").
A package whose code that runs without a check needs more than its arch claims
(x86_64 → v1, x86_64_v2 → v2, x86_64_v3 → v3; noarch → v1) is a finding.

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

Exit: 0 no finding; 1 a finding, or a package or file that could not be audited
(damaged ELF, not an RPM, does not unpack); 2 bad usage (a path that does not exist);
3 infrastructure (bsdtar or debugfs missing); 130/143 interrupted.`;

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
    const run = await runAudit(positionals, {
      jobs,
      looseArch,
      log: stderrLog,
      signal: context.signal,
      onPackage: (p) => process.stdout.write(`${packageLine(p)}\n`),
    });
    const t = run.totals;
    process.stdout.write(
      `audit: ${t.packages} packages, ${t.elfFiles} ELF files, ${(t.codeBytes / 1e6).toFixed(1)} MB of code in ${(run.durationMs / 1000).toFixed(1)} s (${t.mbPerSecond} MB/s, ${jobs} worker${jobs === 1 ? '' : 's'}): ${t.findings} with findings, ${t.errors} not auditable\n`,
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
    return auditExitCode(run.packages.map((p) => p.verdict));
  },
});
