#!/usr/bin/env node
// The levelgate command: parses the subcommand and hands over to its runner.
import { readFileSync } from 'node:fs';
import { auditCommand } from './audit.js';
import { checkCommand } from './check.js';
import { composeCommand } from './compose.js';
import { doctorCommand } from './doctor.js';
import { EXEC_USAGE, execCommand } from './exec.js';
import { gateCommand } from './gate.js';
import { initCommand } from './init.js';
import { mergeCommand } from './merge.js';
import { reproCommand } from './repro.js';
import { setupCommand } from './setup.js';

const USAGE = `usage: levelgate COMMAND [options]

Commands:
  setup     install host packages, build the guest image, probe accelerators
  doctor    what is installed, which accelerators work, which levels this host provides
  init      scaffold a project here or in DIR: configuration, a scenario, a known issue, a CI file
  check     load, type-check and validate the project without booting anything (exit 0 or 2)
  gate      run the scenario catalog at every level for every driver (levelgate gate --help);
            gate --list shows the planned cells and what would run each, without booting
  repro     run one cell with live output; --keep leaves the guest up with a shell
  compose   audit a compose (a createrepo_c repository): every multi-variant name at every level,
            batched in one guest per level and driver (levelgate compose --help)
  merge     combine the gate.json of several CI jobs into one JUnit, HTML and JSON report
  exec      run one command in a guest pinned to a level (levelgate exec --help)
  audit     which x86-64 level the code of RPMs, repositories and images needs (levelgate audit --help)
  --version levelgate's version (the one to name in a bug report)

${EXEC_USAGE.split('\n').slice(-3).join('\n')}`;

const COMMANDS: Record<string, (args: string[]) => Promise<number>> = {
  setup: setupCommand,
  doctor: doctorCommand,
  init: initCommand,
  check: checkCommand,
  gate: gateCommand,
  repro: reproCommand,
  compose: composeCommand,
  merge: mergeCommand,
  exec: execCommand,
  audit: auditCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    // The package's own package.json (dist/runners/cli.js → the package root).
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`levelgate ${version}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`levelgate: error: unknown command '${name}'; known: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  return command(rest);
}

process.exitCode = await main(process.argv.slice(2));
