// The project half of issue 21 as a user meets it: `levelgate check` in a project of
// its own. Each silent configuration mistake of the issue is a usage error (exit 2)
// naming the file and field; spellings the flags accept are accepted in the
// configuration too, normalised once.
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { HELLO, tempProject } from '../fixtures/project.js';

const scenario = HELLO['scenarios/hello.ts'];
const config = HELLO['levelgate.config.ts'];
const issues = HELLO['known-issues.ts'];

/** Runs `levelgate check` in a project of HELLO with `files` replaced. */
async function check(files: Record<string, string>, args: string[] = ['check']) {
  const project = await tempProject({ ...HELLO, ...files });
  try {
    return await project.run(args);
  } finally {
    await project.remove();
  }
}

test.serial('the sample project checks clean: exit 0 with what it found', async (t) => {
  const r = await check({});
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.split('\n')[0], 'levelgate check: levelgate.config.ts: ok');
  t.regex(r.stdout, /planned cells 2 \(levels v1, v3; drivers dnf5\)/);
});

test.serial("levels: ['v1', 'x86-64-v3'] plans v1 and v3 (the flags' spellings, normalised once), and DNF5 is dnf5", async (t) => {
  const r = await check({ 'levelgate.config.ts': config.replace("['v1', 'v3']", "['v1', 'x86-64-v3']").replace("drivers: ['dnf5']", "drivers: ['dnf5', 'zypper']") });
  t.is(r.exitCode, 0, r.stderr);
  t.regex(r.stdout, /planned cells 4 \(levels v1, v3; drivers dnf5, zypper\)/);
  // A JavaScript configuration is not type-checked: the runtime normaliser is all there is.
  const js = await check({ 'levelgate.config.ts': '', 'levelgate.config.mjs': "export default { scenarios: ['scenarios/'], levels: ['x86_64_v1', 'X86-64-V3'], drivers: ['DNF5'] };\n" }, ['check', '--config', 'levelgate.config.mjs']);
  t.is(js.exitCode, 0, js.stderr);
  t.regex(js.stdout, /planned cells 2 \(levels v1, v3; drivers dnf5\)/);
});

test.serial('a level or driver not understood is a usage error naming the file and field', async (t) => {
  const level = await check({ 'levelgate.config.ts': config.replace("['v1', 'v3']", "['v1', 'x86-64-v5']") });
  t.is(level.exitCode, 2);
  t.regex(level.stderr, /^levelgate: error: levelgate\.config\.ts: levels\[1\]: 'x86-64-v5' is not a level or a near miss; known: levels v1, v2, v3, v4 \(also spelled x86-64-v3, x86_64_v3\); near misses v2-cmpxchg16b, /);
  const driver = await check({ 'levelgate.config.mjs': "export default { scenarios: ['scenarios/'], drivers: ['dnf5', 'apt-get'] };\n" }, ['check', '--config', 'levelgate.config.mjs']);
  t.is(driver.exitCode, 2);
  t.is(driver.stderr, "levelgate: error: levelgate.config.mjs: drivers[1]: 'apt-get' is not a driver; known: dnf5, zypper, rpm, apt, pacman");
});

test.serial('a misspelled key beside a valid one in a function-form expectation is caught for the cell it shows in', async (t) => {
  const r = await check({ 'scenarios/hello.ts': scenario.replace("expect({ installed: { lghello: best }, runs: ['lghello'] })", "expect((cpu) => ({ installed: { lghello: best }, ...(cpu.atLeast('v3') ? { runz: ['lghello'] } : {}) }))") });
  t.is(r.exitCode, 2);
  t.is(
    r.stderr,
    "levelgate: error: scenarios/hello.ts:10: scenario 'hello': steps[1] (install lghello).expect(cpu) at v3 with dnf5: unknown key 'runz'; did you mean 'runs'? (known: refused, installed, runs, runsPackage, dies, loads, current, updatesListed, detectedArch, detectors, runnable)",
  );
});

test.serial('a hyphenated expected NEVRA is caught at load, with the spelling rpm uses', async (t) => {
  const r = await check({ 'scenarios/hello.ts': scenario.replace('{ lghello: best }', "{ lghello: '1.0-1.x86_64-v3' }") });
  t.is(r.exitCode, 2);
  t.is(r.stderr, "levelgate: error: scenarios/hello.ts:10: scenario 'hello': steps[1] (install lghello).expect: installed.lghello: '1.0-1.x86_64-v3' has the arch 'x86_64-v3', which is not an rpm arch; did you mean '1.0-1.x86_64_v3'? (rpm arches use '_')");
});

test.serial("an expected build the scenario's repositories do not offer is caught against their metadata", async (t) => {
  const r = await check({ 'scenarios/hello.ts': scenario.replace('{ lghello: best }', "{ lghello: '1.1-1.x86_64_v3' }") });
  t.is(r.exitCode, 2);
  t.is(r.stderr, "levelgate: error: scenarios/hello.ts:10: scenario 'hello': steps[1] (install lghello).expect: installed.lghello: '1.1-1.x86_64_v3' is offered by none of the scenario's repositories; they offer 1.0-1.x86_64, 1.0-1.x86_64_v3");
});

test.serial('a known issue naming a scenario that does not exist is an error naming its file and entry', async (t) => {
  const r = await check({ 'known-issues.ts': issues.replace("scenarios: ['hello']", "scenarios: ['helo']") });
  t.is(r.exitCode, 2);
  t.is(r.stderr, "levelgate: error: known-issues.ts:4: [0] (dnf5-no-levels): scenarios: 'helo' names no scenario of the project; did you mean 'hello'? (known: hello)");
  const level = await check({ 'known-issues.ts': issues.replace("drivers: ['dnf5'],", "drivers: ['dnf5'], levels: ['x86-64-v9' as 'v1'],") });
  t.is(level.exitCode, 2);
  t.regex(level.stderr, /^levelgate: error: known-issues\.ts:4: \[0\] \(dnf5-no-levels\): levels\[0\]: 'x86-64-v9' is not a level; known: v1, v2, v3, v4/);
});

test.serial("levelgate --version prints the package's version, from the package's own package.json", async (t) => {
  const { version } = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const r = await check({}, ['--version']);
  t.is(r.exitCode, 0, r.stderr);
  t.is(r.stdout.trim(), `levelgate ${version}`);
});

test.serial('check refuses an unknown flag and prints its usage with --help', async (t) => {
  const r = await check({}, ['check', '--levels', 'v1']);
  t.is(r.exitCode, 2);
  t.regex(r.stderr, /^levelgate: error: check: Unknown option '--levels'/);
  const help = await check({}, ['check', '--help']);
  t.is(help.exitCode, 0);
  t.regex(help.stdout, /^usage: levelgate check /);
});
