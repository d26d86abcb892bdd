import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import test from 'ava';
import { runAudit } from '../../../harness/audit/audit.js';
import { buildAuditHtml } from '../../../harness/audit/report-html.js';
import { buildAuditJUnit } from '../../../harness/audit/report-junit.js';
import { packageLine } from '../../../harness/audit/report-text.js';
import type { AuditRun } from '../../../harness/audit/types.js';
import { buildAuditElves, type AuditElves } from '../../fixtures/audit-elves.js';
import { JUNIT_SCHEMA } from '../../fixtures/schemas.js';

const CLI = fileURLToPath(new URL('../../../runners/cli.js', import.meta.url));

let root: string;
let elves: AuditElves;
let run: AuditRun;
test.before(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'levelgate-audit-reports-'));
  elves = await buildAuditElves(root);
  run = await runAudit([elves.plain, elves.clean, elves.clones, elves.truncated, elves.notRpm], { jobs: 2, looseArch: 'x86_64' });
});
test.after.always(async () => {
  await rm(root, { recursive: true, force: true });
});

async function validate(xml: string): Promise<{ exitCode: number | undefined; output: string }> {
  const file = path.join(root, `report-${Math.random().toString(36).slice(2)}.xml`);
  await writeFile(file, xml);
  const result = await execa('xmllint', ['--noout', '--schema', JUNIT_SCHEMA, file], { reject: false, all: true });
  return { exitCode: result.exitCode, output: result.all ?? '' };
}

test('JUnit: a testcase per package, a finding is a <failure> with the offending instructions, valid against junit-10.xsd', async (t) => {
  const xml = buildAuditJUnit(run);
  const { exitCode, output } = await validate(xml);
  t.is(exitCode, 0, output);
  t.is((xml.match(/<testcase /g) ?? []).length, 5);
  t.regex(xml, /<failure message="[^"]*needs [^"]*AVX2[^"]*" type="isa-level-above-arch"><!\[CDATA\[[^\]]*0x[0-9a-f]+: v/);
  t.is((xml.match(/<error /g) ?? []).length, 2, 'the truncated ELF and the .rpm that is no RPM');
});

test('HTML: self-contained, every package with its verdict', (t) => {
  const html = buildAuditHtml(run);
  t.notRegex(html, /<script|<link|src="http/);
  t.regex(html, /1 with findings/);
  t.regex(html, /2 not auditable/);
  for (const p of run.packages) t.true(html.includes(p.id.replace(/&/g, '&#38;')), p.id);
});

test('terminal lines: one per package, the finding first', (t) => {
  const lines = run.packages.map(packageLine);
  t.true(lines.some((l) => /^FINDING .*plain \(x86_64 → x86-64-v1\): .*plain needs .*AVX2/.test(l)));
  t.true(lines.some((l) => /^ok +.*clones \(x86_64 → x86-64-v1\): 1 ELF file, without a CPU check x86-64-v1, after one up to x86-64-v3$/.test(l)));
  t.true(lines.some((l) => /^ERROR +.*truncated: .*truncated or damaged/.test(l)));
});

test('levelgate audit: exit 1 on a finding, 0 without, 2 for a path that does not exist (named), reports written', async (t) => {
  const json = path.join(root, 'out', 'audit.json');
  const junit = path.join(root, 'out', 'audit.xml');
  const html = path.join(root, 'out', 'audit.html');
  const finding = await execa('node', [CLI, 'audit', elves.plain, '--jobs', '1', '--json', json, '--junit', junit, '--html', html], { reject: false });
  t.is(finding.exitCode, 1, finding.stderr);
  t.regex(finding.stdout, /^FINDING /m);
  const written = JSON.parse(await readFile(json, 'utf8')) as AuditRun;
  t.is(written.totals.findings, 1);
  t.is((await validate(await readFile(junit, 'utf8'))).exitCode, 0);
  t.regex(await readFile(html, 'utf8'), /levelgate audit/);
  const clean = await execa('node', [CLI, 'audit', elves.clean, elves.clones], { reject: false });
  t.is(clean.exitCode, 0, clean.stderr);
  const v4 = await execa('node', [CLI, 'audit', '--arch', 'x86_64_v4', elves.avx512], { reject: false });
  t.is(v4.exitCode, 0, v4.stderr);
  const missing = await execa('node', [CLI, 'audit', path.join(root, 'no-such.rpm')], { reject: false });
  t.is(missing.exitCode, 2);
  t.regex(missing.stderr, /no-such\.rpm' does not exist/);
  const badArch = await execa('node', [CLI, 'audit', '--arch', 'armv7hl', elves.clean], { reject: false });
  t.is(badArch.exitCode, 2);
  const none = await execa('node', [CLI, 'audit'], { reject: false });
  t.is(none.exitCode, 2);
});
