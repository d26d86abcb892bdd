// JUnit XML through junit-report-builder, shaped for the strictest common consumer
// (Jenkins xUnit's junit-10.xsd, ../shared/schemas): a testsuite per level and driver,
// a testcase per cell whose name is unique across the matrix, per-cell facts as
// [[PROPERTY|name=value]] lines in system-out (the schema allows no properties on a
// testcase), the serial logs and reproducers as [[ATTACHMENT|path]] lines. An expected
// failure is a <skipped> whose message names the known issue and its tracker; expired
// known issues are suite properties and lines of the cells they would have covered.
// A retried cell keeps its earlier attempts as Surefire's rerun elements, which
// junit-10.xsd allows and Jenkins shows: a <flakyError> per emulator error a retry
// settled, a <rerunError> per one before a final error; each suite counts its flaky
// cells in a property, and the cell's system-out says flaky= with the attempts.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import junitModule, { type Builder } from 'junit-report-builder';
import type { CellResult, RunResult } from '../results/types.js';
import type { Reporter } from './reporter.js';

// The package is CommonJS (`module.exports = builder`) while its types declare an ES
// default export: under NodeNext the import is the builder itself.
const junit = junitModule as unknown as Builder;
type TestCase = ReturnType<ReturnType<ReturnType<Builder['newBuilder']>['testSuite']>['testCase']>;
/** xmlbuilder's element, as junit-report-builder's build() takes and returns it. */
type XMLElement = Parameters<TestCase['build']>[0];

function transcript(cell: CellResult): string {
  const lines: string[] = [];
  const prop = (name: string, value: string | undefined) => value !== undefined && lines.push(`[[PROPERTY|${name}=${value}]]`);
  prop('verdict', cell.verdict);
  prop('package', cell.packageName);
  prop('pattern', cell.pattern);
  prop('requested-level', cell.target);
  if (cell.target !== cell.level) prop('meets-level', cell.level);
  prop('proven-level', cell.proofs.map((p) => p.proven ?? 'none').join(' → ') || undefined);
  prop('cpu', cell.facts?.cpu);
  prop('accelerator', cell.facts?.accel ?? cell.accel);
  prop('fidelity', cell.facts?.fidelity);
  prop('emulator', cell.facts?.emulator);
  prop('guest-start', cell.facts?.start);
  for (const r of cell.facts?.detectors ?? []) prop(`detector.${r.detector}`, `${r.answer}${r.level ? ` (${r.level})` : ''}`);
  prop('image', cell.facts?.imageDigest);
  prop('image-name', cell.facts?.image?.name);
  prop('image-os', cell.facts?.image?.os);
  prop('glibc', cell.facts?.image?.glibc);
  prop('kernel', cell.facts?.kernel);
  prop('package-manager', cell.facts?.packageManager);
  prop('attempts', String(cell.attempts));
  for (const a of cell.earlierAttempts ?? []) prop(cell.flaky ? 'flaky' : 'retried', `attempt ${a.attempt}: ${a.verdict}: ${a.reason}`);
  for (const issue of cell.knownIssues) prop('known-issue', `${issue.id} ${issue.tracker}`);
  for (const issue of cell.expiredKnownIssues) prop('expired-known-issue', `${issue.id} (expired ${issue.expires}) ${issue.tracker}`);
  lines.push(`${cell.verdict}: ${cell.reason}`);
  lines.push(`repro: ${cell.repro}`);
  for (const step of cell.steps) {
    lines.push('', `step ${step.index} at ${step.level}: ${step.title}`);
    for (const command of step.commands) {
      const status = command.signal ? `signal ${command.signal}` : `exit ${command.exitCode}`;
      lines.push(`  $ ${command.command}   (${status}${command.timedOut ? ', timed out' : ''}, ${command.durationMs} ms)`);
      const output = `${command.stdout}${command.stderr}`.trim();
      if (output) lines.push(...output.split('\n').slice(-15).map((l) => `    ${l}`));
      for (const event of command.consoleEvents) lines.push(`    console: ${event}`);
      for (const line of command.forensics ?? []) lines.push(`    SIGILL: ${line}`);
    }
    lines.push(`  installed before: ${step.installedBefore.join(' ') || 'nothing'}`);
    lines.push(`  installed after:  ${step.installedAfter.join(' ') || 'nothing'}`);
    for (const check of step.checks) {
      const mark = check.status === 'pass' ? 'ok  ' : check.status === 'skip' ? 'SKIP' : check.explainedBy ? 'XFAIL' : 'FAIL';
      lines.push(`  ${mark} ${check.check}: expected ${check.expected}, got ${check.actual}${check.explainedBy ? ` (known issue ${check.explainedBy})` : ''}${check.skipReason ? ` (${check.skipReason})` : ''}`);
    }
  }
  for (const log of [...cell.consoleLogs, ...cell.attachments]) lines.push(`[[ATTACHMENT|${log}]]`);
  return lines.join('\n');
}

/** junit-report-builder writes <skipped/> bare: give this test case's element the message and type the schema allows. */
function skippedWith(testCase: TestCase, message: string, type: string): void {
  const build = testCase.build.bind(testCase);
  testCase.build = (parent: XMLElement): XMLElement => {
    const element = build(parent);
    const skipped = (element.children as XMLElement[]).find((c) => (c as unknown as { name?: string }).name === 'skipped');
    skipped?.att('message', message).att('type', type);
    return element;
  };
  testCase.skipped();
}

/** Each earlier attempt as a Surefire rerun element (message, type, its evidence in system-out). */
function withEarlierAttempts(testCase: TestCase, cell: CellResult): void {
  const attempts = cell.earlierAttempts ?? [];
  if (attempts.length === 0) return;
  const element = cell.flaky ? 'flakyError' : 'rerunError';
  const build = testCase.build.bind(testCase);
  testCase.build = (parent: XMLElement): XMLElement => {
    const built = build(parent);
    for (const a of attempts) {
      const child = built.ele(element, { message: `attempt ${a.attempt}: ${a.reason}`, type: 'emulator' });
      const evidence = [...a.consoleLogs, ...a.attachments].map((f) => `[[ATTACHMENT|${f}]]`).join('\n');
      if (evidence) child.ele('system-out').txt(evidence);
    }
    return built;
  };
}

export function buildJUnit(run: RunResult): string {
  const builder = junit.newBuilder().name(`levelgate${run.shard ? ` shard ${run.shard}` : ''}`);
  const suites = new Map<string, ReturnType<typeof builder.testSuite>>();
  for (const cell of run.cells) {
    const key = `${cell.target} ${cell.driver}`;
    let suite = suites.get(key);
    if (!suite) {
      suite = builder.testSuite().name(`levelgate ${cell.target} ${cell.driver}`).timestamp(run.startedAt);
      suite.property('level', cell.target).property('driver', cell.driver).property('image', run.image).property('fixtures', run.fixtures);
      suite.property('hostname', run.hostname);
      if (run.interrupted) suite.property('interrupted', 'true');
      const expired = new Map(run.cells.filter((c) => c.target === cell.target && c.driver === cell.driver).flatMap((c) => c.expiredKnownIssues.map((i) => [i.id, i] as const)));
      for (const issue of expired.values()) suite.property('expired-known-issue', `${issue.id} (expired ${issue.expires}) ${issue.tracker}`);
      for (const issue of run.idleKnownIssues ?? []) suite.property('idle-known-issue', `${issue.id} explained nothing in this run ${issue.tracker}`);
      const flaky = run.cells.filter((c) => c.target === cell.target && c.driver === cell.driver && c.flaky).length;
      if (flaky > 0) suite.property('flaky', String(flaky));
      suites.set(key, suite);
    }
    const testCase = suite.testCase().className(`levelgate.${cell.target}.${cell.driver}`).name(cell.id).time(cell.timings.totalMs / 1000);
    testCase.standardOutput(transcript(cell));
    withEarlierAttempts(testCase, cell);
    switch (cell.verdict) {
      case 'fail':
      case 'xpass':
        testCase.failure(`${cell.reason} — rerun: ${cell.repro}`, cell.verdict === 'xpass' ? 'unexpected-pass' : 'wrong-outcome');
        break;
      case 'error':
        testCase.error(`${cell.reason} — rerun: ${cell.repro}`, 'infrastructure');
        break;
      case 'xfail':
        skippedWith(testCase, `expected failure: ${cell.reason}`, `known-issue ${cell.knownIssues.map((i) => i.tracker).join(' ')}`);
        break;
      case 'skip':
        skippedWith(testCase, cell.reason, 'skipped');
        break;
      case 'pass':
        break;
    }
  }
  // junit-report-builder counts `skipped` on <testsuites> too, which junit-10.xsd does
  // not allow there (it does on <testsuite>): drop that one root attribute.
  return builder.build().replace(/(<testsuites\b[^>]*?) skipped="\d+"/, '$1');
}

export function junitReporter(file: string): Reporter {
  return {
    name: 'junit',
    async onEnd(run) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, buildJUnit(run));
      return file;
    },
  };
}
