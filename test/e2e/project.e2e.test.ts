// levelgate used from another project: a directory outside this checkout with its own
// package.json depending on it, a levelgate.config.ts, one scenario, one repository it
// builds with rpmbuild and createrepo_c, and one known issue; `npx levelgate gate` there
// gives verdicts and reports. Bad input stops with a message that names the file, field
// or flag, and exit 2, before any guest boots.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import test from 'ava';
import type { RunResult } from '../../harness/results/types.js';
import { leftovers } from './helpers.js';
import { JUNIT_SCHEMA } from '../fixtures/schemas.js';

const CHECKOUT = fileURLToPath(new URL('../../..', import.meta.url));
let project: string;

/** Builds a repository of `distro-hello` 1.0 and 1.1 (a shell-script program, x86_64) with the host's rpmbuild and createrepo_c. */
async function buildRepository(dir: string): Promise<void> {
  const top = path.join(project, 'rpmbuild');
  for (const version of ['1.0', '1.1']) {
    const spec = path.join(project, `distro-hello-${version}.spec`);
    await writeFile(
      spec,
      [
        'Name: distro-hello',
        `Version: ${version}`,
        'Release: 1',
        'Summary: a program of the distribution under test',
        'License: MIT',
        'AutoReqProv: no',
        '%description',
        'Prints its version.',
        '%install',
        'mkdir -p %{buildroot}/usr/bin',
        `printf '#!/bin/sh\\necho "distro-hello ${version}"\\n' > %{buildroot}/usr/bin/distro-hello`,
        'chmod 755 %{buildroot}/usr/bin/distro-hello',
        '%files',
        '/usr/bin/distro-hello',
        '',
      ].join('\n'),
    );
    await execa('rpmbuild', ['--quiet', '-bb', '--target', 'x86_64', '--define', `_topdir ${top}`, '--define', '_build_id_links none', spec]);
  }
  await mkdir(dir, { recursive: true });
  for (const version of ['1.0', '1.1']) await execa('cp', [path.join(top, 'RPMS/x86_64', `distro-hello-${version}-1.x86_64.rpm`), dir]);
  await execa('createrepo_c', ['--quiet', dir]);
}

const CONFIG = `import { defineConfig } from 'levelgate';

export default defineConfig({
  scenarios: ['scenarios/'],
  repos: { compose: './compose' },
  knownIssues: ['known-issues.ts'],
  levels: ['v2'],
  drivers: ['dnf5'],
  reporters: { junit: 'out/junit.xml', html: 'out/report.html', json: 'out/gate.json', evidence: 'out/evidence' },
});
`;

const SCENARIO = `import { attached, best, defineScenario, detect, enable, install } from 'levelgate';

export default defineScenario({
  id: 'hello-from-compose',
  title: 'The newest distro-hello installs from the compose and runs',
  drivers: ['dnf5'],
  repos: { compose: attached('compose') },
  steps: [
    enable('compose'),
    install('distro-hello').expect({ installed: { 'distro-hello': best }, runsPackage: ['distro-hello'] }),
    detect().expect({ detectedArch: 'level' }),
  ],
});
`;

const KNOWN_ISSUES = `import { atLeast, defineKnownIssue, deviation } from 'levelgate';

export default [
  defineKnownIssue({
    id: 'dnf5-arch-from-uname',
    reason: 'dnf5 5.4 takes the arch from uname',
    tracker: 'https://github.com/rpm-software-management/dnf5/pull/2591',
    expires: '2099-12-31',
    scenarios: ['hello-from-compose'],
    drivers: ['dnf5'],
    levels: atLeast('v2'),
    explains: [deviation.detectedArch('dnf5-arch')],
  }),
];
`;

const levelgate = (args: string[], cwd = project) => execa('npx', ['--no-install', 'levelgate', ...args], { cwd, reject: false, all: true, env: { TMPDIR: path.join(project, 'tmp') } });

test.before(async () => {
  project = path.join(os.tmpdir(), `levelgate-project-${process.pid}`);
  await rm(project, { recursive: true, force: true });
  await mkdir(path.join(project, 'scenarios'), { recursive: true });
  await mkdir(path.join(project, 'tmp'));
  await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'distro-qa', private: true, type: 'module', dependencies: { levelgate: `file:${CHECKOUT}` } }, null, 2));
  await execa('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project });
  await buildRepository(path.join(project, 'compose'));
  await writeFile(path.join(project, 'levelgate.config.ts'), CONFIG);
  await writeFile(path.join(project, 'scenarios/hello.ts'), SCENARIO);
  await writeFile(path.join(project, 'known-issues.ts'), KNOWN_ISSUES);
});

test.after.always(async () => {
  await rm(project, { recursive: true, force: true });
});

test.serial('npx levelgate gate in another project runs its scenario against its repository, with its known issue', async (t) => {
  const run = await levelgate(['gate']);
  const report = JSON.parse(await readFile(path.join(project, 'out/gate.json'), 'utf8')) as RunResult;
  t.deepEqual(report.cells.map((c) => c.id), ['hello-from-compose[v2,dnf5]']);
  const [cell] = report.cells;
  // The newest build, installed from the attached repository, ran.
  t.deepEqual(cell!.steps[1]!.installedAfter, ['distro-hello-1.1-1.x86_64']);
  t.like(cell!.steps[1]!.checks.find((c) => c.kind === 'runs'), { status: 'pass', actual: 'distro-hello 1.1' });
  // The known issue explains exactly the check it names: dnf5's detected arch, or it is stale (xpass).
  const detected = cell!.steps[2]!.checks.find((c) => c.kind === 'detected-arch')!;
  t.is(cell!.verdict, detected.status === 'fail' ? 'xfail' : 'xpass', cell!.reason);
  if (detected.status === 'fail') t.is(detected.explainedBy, 'dnf5-arch-from-uname');
  t.is(run.exitCode, cell!.verdict === 'xfail' ? 0 : 1, run.all);
  t.regex(cell!.repro, /^npx levelgate repro hello-from-compose --level v2 --driver dnf5$/);
  const lint = await execa('xmllint', ['--noout', '--schema', JUNIT_SCHEMA, path.join(project, 'out/junit.xml')], { reject: false, all: true });
  t.is(lint.exitCode, 0, lint.all);
  t.regex(await readFile(path.join(project, 'out/report.html'), 'utf8'), /hello-from-compose/);
  t.deepEqual((await leftovers(path.join(project, 'tmp'))).processes, []);
});

/** Writes a variant of the project's files, runs the gate, and restores them. */
async function gateWith(files: Record<string, string>, args: string[] = ['gate']): Promise<{ exitCode: number | undefined; all: string }> {
  const saved: Record<string, string | undefined> = {};
  for (const [name, content] of Object.entries(files)) {
    saved[name] = await readFile(path.join(project, name), 'utf8').catch(() => undefined);
    await writeFile(path.join(project, name), content);
  }
  try {
    const run = await levelgate(args);
    return { exitCode: run.exitCode, all: run.all ?? '' };
  } finally {
    for (const [name, content] of Object.entries(saved)) {
      if (content === undefined) await rm(path.join(project, name), { force: true });
      else await writeFile(path.join(project, name), content);
    }
  }
}

test.serial('bad input names the file, field or flag, and exits 2', async (t) => {
  const cases: [string, Record<string, string>, string[], RegExp][] = [
    ['a missing repository directory', { 'levelgate.config.ts': CONFIG.replace("'./compose'", "'./no-such-dir'") }, ['gate'], /levelgate\.config\.ts: repos\.compose: .*no-such-dir does not exist or is not a directory/],
    ['a directory without repodata', { 'levelgate.config.ts': CONFIG.replace("'./compose'", "'./scenarios'") }, ['gate'], /levelgate\.config\.ts: repos\.compose: .*scenarios is not a repository: it has no repodata\/repomd\.xml/],
    ['a --repo flag without repodata', {}, ['gate', '--repo', 'extra=./scenarios'], /--repo extra=\.\/scenarios: .*scenarios is not a repository: it has no repodata\/repomd\.xml/],
    ['a scenario id used twice', { 'scenarios/again.ts': SCENARIO }, ['gate'], /scenario 'hello-from-compose' \(scenarios\/hello\.ts\): id 'hello-from-compose' is used twice \(also scenarios\/again\.ts\)|scenario 'hello-from-compose' \(scenarios\/again\.ts\): id 'hello-from-compose' is used twice/],
    ['a scenario naming a repository it does not declare', { 'scenarios/hello.ts': SCENARIO.replace("enable('compose')", "enable('updates')") }, ['gate'], /scenario 'hello-from-compose' \(scenarios\/hello\.ts\): steps\[0\]: names repository 'updates', which the scenario does not declare; declared: compose/],
    ['a scenario that does not type-check', { 'scenarios/hello.ts': SCENARIO.replace("drivers: ['dnf5']", "drivers: ['yum']") }, ['gate'], /scenarios\/hello\.ts:6:\d+: Type '"yum"' is not assignable/],
    ['an unknown configuration field', { 'levelgate.config.ts': CONFIG.replace('levels:', 'level:') }, ['gate'], /levelgate\.config\.ts: unknown field 'level'; known: scenarios, builtinCatalog, repos, knownIssues, levels, /],
  ];
  for (const [what, files, args, message] of cases) {
    const run = await gateWith(files, args);
    t.is(run.exitCode, 2, `${what}: ${run.all}`);
    t.regex(run.all, message, what);
  }
});
