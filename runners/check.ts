// `levelgate check`: loads the project as gate does (configuration, scenario and
// known-issue files type-checked and loaded, attached repositories' metadata read,
// every expectation computed for every planned cell and checked) and boots nothing:
// exit 0 when it is ready to run, 2 with every problem's file and field or line.
import path from 'node:path';
import { selectCells } from '../harness/plan/selection.js';
import { defineCommand } from './command.js';
import { resolveProject } from '../harness/config/project.js';
import { EXIT_CODES } from '../harness/results/summary.js';

export const CHECK_USAGE = `usage: levelgate check [--config PATH] [--repo NAME=DIR]... [--variant-audit]

Loads and validates the project without booting anything: the configuration and every
scenario and known-issue file it names are type-checked (TypeScript) and loaded; the
repositories it attaches are read (their repodata); every scenario is validated; every
expectation is computed for each cell any selection could plan (every level and
driver of its scenario, near misses included; a function-form .expect((cpu) => ...)
is called for each one) and may name only fields the checks know,
with each installed build written VERSION-RELEASE.ARCH and offered by the scenario's
repositories; every known issue must cover a scenario that exists.

Exit: 0 ready to run; 2 the problems, each naming its file and field or line.`;

export const checkCommand = defineCommand({
  name: 'check',
  usage: CHECK_USAGE,
  options: {
    config: { type: 'string' },
    repo: { type: 'string', multiple: true },
    'variant-audit': { type: 'boolean', default: false },
  },
  run: async (values) => {
    const resolved = await resolveProject(process.cwd(), { ...(values.config ? { config: values.config } : {}), ...(values.repo ? { repo: values.repo } : {}), variantAudit: values['variant-audit'] });
    const { project } = resolved;
    const cells = selectCells(resolved.scenarios, project.config);
    const own = project.scenarios.length;
    const builtin = resolved.scenarios.length - own;
    const lines = [
      `levelgate check: ${project.configFile ? path.relative(process.cwd(), project.configFile) || project.configFile : 'no configuration (the built-in catalog)'}: ok`,
      `  scenarios     ${resolved.scenarios.length}${own && builtin ? ` (${own} of the project, ${builtin} built in or generated)` : ''}`,
      `  known issues  ${resolved.knownIssues.length}`,
      `  repositories  ${resolved.attached.map((r) => `${r.name} (${r.metadata.packages.length} packages)`).join(', ') || 'none attached'}`,
      `  planned cells ${cells.length} (levels ${[...new Set(cells.map((c) => c.target.name))].join(', ')}; drivers ${[...new Set(cells.map((c) => c.driver))].join(', ')}); levelgate gate --list shows them`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return EXIT_CODES.ok;
  },
});
