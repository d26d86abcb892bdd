// Every subcommand goes through defineCommand: --help prints its usage and exits 0, an
// unknown flag is a usage error naming the flag (exit 2), before anything runs.
import test from 'ava';
import { COMMANDS } from '../../runners/commands.js';

/** Runs a command with stdout and stderr captured. */
async function capture(run: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = { stdout: process.stdout.write, stderr: process.stderr.write };
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    return { code: await run(), stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write.stdout;
    process.stderr.write = write.stderr;
  }
}

for (const [name, load] of Object.entries(COMMANDS)) {
  test.serial(`${name} --help: its usage on stdout, exit 0`, async (t) => {
    const { code, stdout } = await capture(async () => (await load())(['--help']));
    t.is(code, 0);
    t.regex(stdout, new RegExp(`^usage: levelgate ${name}\\b`));
  });
  test.serial(`${name} --no-such-flag: exit 2 naming the flag`, async (t) => {
    const { code, stdout, stderr } = await capture(async () => (await load())(['--no-such-flag']));
    t.is(code, 2);
    t.is(stdout, '');
    t.regex(stderr, /^levelgate: error: \w+: Unknown option '--no-such-flag'/);
  });
}

test.serial('exec: a positional before -- is refused; what follows -- is the command, flags included', async (t) => {
  const before = await capture(async () => (await COMMANDS.exec())(['--level', 'v2', 'uname']));
  t.is(before.code, 2);
  t.regex(before.stderr, /exec: unexpected argument 'uname'/);
  // --bogus after -- belongs to the command: the error is the level's, not the flag's.
  const after = await capture(async () => (await COMMANDS.exec())(['--level', 'v9', '--', 'ls', '--bogus']));
  t.is(after.code, 2);
  t.notRegex(after.stderr, /bogus/);
  t.regex(after.stderr, /v9/);
});
