// The subcommands by name, each a defineCommand (--help, unknown flags rejected, exit codes
// by error kind), loaded when it runs: `exec` does not pay for the compiler `check` loads,
// nor `gate` for the audit's decoder.
export type Command = (args: string[]) => Promise<number>;

export const COMMANDS = {
  setup: async () => (await import('./setup.js')).setupCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  init: async () => (await import('./init.js')).initCommand,
  check: async () => (await import('./check.js')).checkCommand,
  gate: async () => (await import('./gate.js')).gateCommand,
  repro: async () => (await import('./repro.js')).reproCommand,
  compose: async () => (await import('./compose.js')).composeCommand,
  merge: async () => (await import('./merge.js')).mergeCommand,
  exec: async () => (await import('./exec.js')).execCommand,
  audit: async () => (await import('./audit.js')).auditCommand,
} as const satisfies Record<string, () => Promise<Command>>;
