// The audit as JUnit XML (junit-10.xsd, like the gate's report): a testsuite per input,
// a testcase per package; a finding is a <failure> listing the first offending
// instructions per file, a package that could not be audited an <error>. Suspected
// findings alone do not fail the testcase: its output lists them.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import junitModule, { type Builder } from 'junit-report-builder';
import { fails } from './findings.js';
import { findingText, packageTranscript } from './report-text.js';
import type { AuditRun, PackageAudit } from './types.js';

// CommonJS package with ES-default types: under NodeNext the import is the builder itself.
const junit = junitModule as unknown as Builder;

function failureBody(p: PackageAudit): string {
  return p.findings
    .map((f) => [findingText(f), ...f.examples.slice(0, 6).map((e) => `  ${e.address}: ${e.text}   (${e.feature})`)].join('\n'))
    .join('\n');
}

export function buildAuditJUnit(run: AuditRun): string {
  const builder = junit.newBuilder().name('levelgate audit');
  for (const input of run.inputs) {
    const packages = run.packages.filter((p) => p.input === input);
    const suite = builder.testSuite().name(`levelgate audit ${input}`).timestamp(run.startedAt);
    suite.property('input', input).property('jobs', String(run.jobs));
    if (run.interrupted) suite.property('interrupted', 'true');
    for (const p of packages) {
      const seconds = p.files.reduce((n, f) => n + f.milliseconds, 0) / 1000;
      const testCase = suite.testCase().className(`levelgate.audit.${p.inputKind}`).name(p.id).time(seconds);
      testCase.standardOutput(packageTranscript(p));
      if (p.verdict === 'finding') {
        testCase.failure(p.findings.filter(fails).map((f) => (f.confidence === 'static' ? f.message : `${f.message} (confidence ${f.confidence}: ${f.run?.detail ?? ''})`)).join(' | '), 'isa-level-above-arch');
        testCase.stacktrace(failureBody(p));
      } else if (p.verdict === 'error') {
        const broken = p.files.filter((f) => f.status === 'error');
        testCase.error(p.problem ?? broken.map((f) => `${f.path}: ${f.reason}`).join(' | '), 'not-auditable');
      }
    }
  }
  // junit-report-builder counts `skipped` on <testsuites>, which junit-10.xsd does not allow there.
  return builder.build().replace(/(<testsuites\b[^>]*?) skipped="\d+"/, '$1');
}

export async function writeAuditJUnit(run: AuditRun, file: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, buildAuditJUnit(run));
}
