// `levelgate init [DIR]`: scaffolds a project that passes `levelgate check` and runs:
// a configuration, one scenario with its own fixture repository, one known issue, and
// the GitHub Actions example this installation ships (docs/ci/github-actions.yml, copied
// as it is). Never overwrites a file.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exists } from '../harness/host/cache.js';
import { UsageError } from '../harness/util/errors.js';
import { defineCommand } from './command.js';
import { EXIT_CODES } from '../harness/results/summary.js';

/** This installation's root (dist/runners/init.js → the package). */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CI_EXAMPLE = path.join(PACKAGE_ROOT, 'docs/ci/github-actions.yml');

export const INIT_USAGE = `usage: levelgate init [DIR]

Scaffolds a levelgate project in DIR (default: here), creating it if needed:
  levelgate.config.ts            the configuration (scenarios, known issues, drivers, reporters)
  scenarios/hello.ts             one scenario: a fixture package built in x86_64 and x86_64_v3,
                                 installed with dnf5 and zypper; the best variant must win
  known-issues.ts                one known issue (dnf5 takes the arch from uname)
  .github/workflows/levelgate.yml   the GitHub Actions example of this installation
  package.json                   only when DIR has none: a private package depending on levelgate
It never overwrites a file: an existing one is an error naming it. Then:
  levelgate check                loads and validates the project, boots nothing
  levelgate gate --list          the cells it plans
  levelgate gate --level v1      runs them at v1`;

const CONFIG = `// levelgate's configuration: see docs/your-distribution.md of levelgate.
import { defineConfig } from 'levelgate';

export default defineConfig({
  scenarios: ['scenarios/'],
  knownIssues: ['known-issues.ts'],
  // Every level by default; near misses with nearMisses: true. Spellings: v3, x86-64-v3, x86_64_v3.
  // levels: ['v1', 'v2', 'v3', 'v4'],
  drivers: ['dnf5', 'zypper'],
  // Your distribution's repositories, attached read-only to every guest: name → createrepo_c directory.
  // repos: { compose: '/srv/compose/Everything/x86_64/os' },
  reporters: ['terminal', ['json', { outputFile: 'reports/gate.json' }], ['junit', { outputFile: 'reports/junit.xml' }], ['html', { outputFile: 'reports/report.html' }]],
});
`;

const SCENARIO = `// A scenario reads as given (repositories) / when (steps) / then (expectations).
import { best, defineScenario, enable, install, variants } from 'levelgate';

export default defineScenario({
  id: 'hello',
  title: 'A fresh install picks the best variant the CPU runs',
  drivers: ['dnf5', 'zypper'],
  // levelgate builds these fixture packages: lghello 1.0 in x86_64 and in x86_64_v3.
  repos: { base: variants('lghello', '1.0', ['x86_64', 'x86_64_v3']) },
  steps: [
    enable('base'),
    // At v1 and v2 the x86_64 build, at v3 and v4 the x86_64_v3 one; and it runs.
    install('lghello').expect({ installed: { lghello: best }, runs: ['lghello'] }),
  ],
});
`;

const KNOWN_ISSUES = `// Known shortfalls of today's tools: a cell they explain is an expected failure (xfail);
// one that explains nothing is an unexpected pass (xpass) that asks for its removal.
import { atLeast, defineKnownIssue, deviation } from 'levelgate';

export default [
  defineKnownIssue({
    id: 'dnf5-arch-from-uname',
    reason: 'dnf5 takes the machine arch from uname: it installs x86_64 where an x86_64_v3 build exists',
    tracker: 'https://github.com/rpm-software-management/dnf5/pull/2591',
    expires: '2027-06-30',
    scenarios: ['hello'],
    drivers: ['dnf5'],
    levels: atLeast('v3'),
    explains: [deviation.installedArch('lghello', 'install')],
  }),
];
`;

/** How a new package.json depends on this levelgate: the checkout itself, or its version from the registry. */
async function dependencySpec(): Promise<string> {
  const own = JSON.parse(await readFile(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return PACKAGE_ROOT.split(path.sep).includes('node_modules') ? `^${own.version}` : `file:${PACKAGE_ROOT.replace(/\/$/, '')}`;
}

/** A path as short as it reads: relative below the working directory, absolute elsewhere. */
const shown = (file: string): string => (path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file) || '.');

export const initCommand = defineCommand({
  name: 'init',
  usage: INIT_USAGE,
  positionals: true,
  options: {},
  run: async (_values, positionals) => {
    if (positionals.length > 1) throw new UsageError(`init: name one directory, not ${positionals.length}`, { hint: 'levelgate init [DIR]' });
    const dir = path.resolve(positionals[0] ?? '.');
    const files: [string, string | { copy: string }][] = [
      ['levelgate.config.ts', CONFIG],
      ['scenarios/hello.ts', SCENARIO],
      ['known-issues.ts', KNOWN_ISSUES],
      ['.github/workflows/levelgate.yml', { copy: CI_EXAMPLE }],
    ];
    if (!(await exists(path.join(dir, 'package.json')))) {
      files.push(['package.json', `${JSON.stringify({ name: path.basename(dir).toLowerCase().replace(/[^a-z0-9._-]/g, '-') || 'levelgate-project', private: true, type: 'module', devDependencies: { levelgate: await dependencySpec() } }, null, 2)}\n`]);
    }
    const taken = [];
    for (const [name] of files) if (await exists(path.join(dir, name))) taken.push(name);
    if (taken.length) throw new UsageError(`init: ${dir} already has ${taken.join(', ')}; levelgate init never overwrites a file`, { hint: 'run it in an empty directory, or move those files away' });
    if (!(await exists(CI_EXAMPLE))) throw new UsageError(`init: this installation has no CI example at ${CI_EXAMPLE}`);
    for (const [name, content] of files) {
      const file = path.join(dir, name);
      await mkdir(path.dirname(file), { recursive: true });
      if (typeof content === 'string') await writeFile(file, content, { flag: 'wx' });
      else await copyFile(content.copy, file);
      process.stdout.write(`created ${shown(file)}\n`);
    }
    process.stdout.write(`\nNext${dir === process.cwd() ? '' : ` (cd ${shown(dir)})`}:\n  levelgate check\n  levelgate gate --list\n  levelgate gate --level v1\n`);
    return EXIT_CODES.ok;
  },
});
