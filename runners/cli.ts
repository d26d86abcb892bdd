#!/usr/bin/env node
// The levelgate command: parses the subcommand and hands over to its runner.
import { readFileSync } from 'node:fs';
import { COMMANDS, type Command } from './commands.js';

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

`;


async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    // The package's own package.json (dist/runners/cli.js → the package root).
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`levelgate ${version}\n`);
    return 0;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const { EXEC_USAGE } = await import('./exec.js');
    process.stdout.write(`${USAGE}${EXEC_USAGE.split('\n').slice(-3).join('\n')}\n`);
    return name ? 0 : 2;
  }
  const command = (COMMANDS as Record<string, (() => Promise<Command>) | undefined>)[name];
  if (!command) {
    process.stderr.write(`levelgate: error: unknown command '${name}'; known: ${Object.keys(COMMANDS).join(', ')}\n`);
    return 2;
  }
  return (await command())(rest);
}

process.exitCode = await main(process.argv.slice(2));
