// Quoting an argument array as one shell-readable line, for messages and transcripts only:
// commands always run as argument arrays.

export function quoteCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}
