// The subcommands by name, each a defineCommand (--help, unknown flags rejected, exit codes by error kind).
import { auditCommand } from './audit.js';
import { checkCommand } from './check.js';
import { doctorCommand } from './doctor.js';
import { execCommand } from './exec.js';
import { gateCommand } from './gate.js';
import { initCommand } from './init.js';
import { mergeCommand } from './merge.js';
import { reproCommand } from './repro.js';
import { setupCommand } from './setup.js';

export const COMMANDS = {
  setup: setupCommand,
  doctor: doctorCommand,
  init: initCommand,
  check: checkCommand,
  gate: gateCommand,
  repro: reproCommand,
  merge: mergeCommand,
  exec: execCommand,
  audit: auditCommand,
} as const satisfies Record<string, (args: string[]) => Promise<number>>;
