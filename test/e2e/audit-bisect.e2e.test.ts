// audit --run bisect and SIGILL forensics in real guests: a program and a library built
// here with gcc -march=x86-64-v3 (loose files, claimed x86_64) bisect to v3 with the
// instruction that kills them at v2 named, the library loaded through the loader; a
// program that a shell starts from /tmp in `levelgate exec` and that dies of SIGILL is
// explained by its own mapping (the core_pattern handler's record), not by its name.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { execa } from 'execa';
import type { AuditRun } from '../../harness/audit/types.js';
import { removeScratch, scratchDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../runners/cli.js', import.meta.url));

// A dot product gcc vectorises with AVX at -O3 -march=x86-64-v3; the library does it in a constructor (run by dlopen).
const PROGRAM = `#include <stdio.h>
#include <string.h>
__attribute__((noinline)) float dot(const float *a, const float *b, int n) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }
int main(int argc, char **argv) {
  float a[64], b[64];
  for (int i = 0; i < 64; i++) { a[i] = (float)argc + i; b[i] = (float)strlen(argv[0]) + i; }
#ifdef CHECKED
  if (argc > 2) printf("avx2: %d\\n", __builtin_cpu_supports("avx2"));
#endif
  printf("lgv3 %g\\n", dot(a, b, 64));
  return 0;
}
`;
const LIBRARY = `#include <stdlib.h>
volatile float sink;
static float a[256], b[256];
__attribute__((constructor)) static void init_tables(void) {
  int n = 200 + (getenv("LG_N") ? 1 : 0);
  for (int i = 0; i < n; i++) { a[i] = (float)i * 0.5f; b[i] = (float)(n - i); }
  float s = 0;
  for (int i = 0; i < n; i++) s += a[i] * b[i];
  sink = s;
}
int lgv3_answer(void) { return 42; }
`;

let scratch: string;
let built: string;
test.before(async () => {
  scratch = await scratchDir('audit-bisect');
  built = path.join(scratch, 'built');
  await mkdir(built);
  await execa('sh', ['-c', `printf '%s' "$1" > lgv3.c && printf '%s' "$2" > liblgv3.c`, 'sh', PROGRAM, LIBRARY], { cwd: built });
  await execa('gcc', ['-O3', '-march=x86-64-v3', '-o', 'lgv3', 'lgv3.c'], { cwd: built });
  // The same program with a CPU check elsewhere (__builtin_cpu_supports, on a path --version does not take): it hides nothing.
  await execa('gcc', ['-O3', '-march=x86-64-v3', '-DCHECKED', '-o', 'lgv3checked', 'lgv3.c'], { cwd: built });
  await execa('gcc', ['-O3', '-march=x86-64-v3', '-shared', '-fPIC', '-o', 'liblgv3.so', 'liblgv3.c'], { cwd: built });
});
test.after.always(async () => {
  await removeScratch(scratch);
});

const cli = (args: string[]) => execa('node', [CLI, ...args], { reject: false, env: { TMPDIR: scratch } });

test.serial('audit --run bisect: a -march=x86-64-v3 program (with a CPU check elsewhere or without one) and library claimed x86_64 run at v3; at v2 the instruction and its extension are named; static and dynamic agree; a sure finding at v1 and v2', async (t) => {
  const json = path.join(scratch, 'bisect.json');
  const r = await cli(['audit', '--run', 'bisect', '--levels', 'v1,v2,v3', '--json', json, path.join(built, 'lgv3'), path.join(built, 'lgv3checked'), path.join(built, 'liblgv3.so')]);
  t.log(r.stdout);
  t.is(r.exitCode, 1, `a finding (an x86_64 file that needs v3): ${r.stderr.slice(-2000)}`);
  const run = JSON.parse(await readFile(json, 'utf8')) as AuditRun;
  t.deepEqual(run.bisectCost?.restores, { v1: 1, v2: 1, v3: 1 }, 'one guest per level for all three');
  const [program] = run.packages.find((p) => p.id.endsWith('/lgv3'))!.bisect!;
  const [checked] = run.packages.find((p) => p.id.endsWith('/lgv3checked'))!.bisect!;
  const [library] = run.packages.find((p) => p.id.endsWith('/liblgv3.so'))!.bisect!;
  for (const [b, kind] of [
    [program!, 'program'],
    [checked!, 'program'],
    [library!, 'library'],
  ] as const) {
    t.like(b, { kind, runsAt: 'v3', staticLevel: 'v3', killedBelowBy: { level: 'v2', how: 'sigill' }, reconciliation: { agreement: 'agree' } });
    t.regex(b.killedBelowBy!.mnemonic ?? '', /^v\w+$/, 'a VEX instruction');
    t.regex(b.killedBelowBy!.extension ?? '', /AVX/);
    const atV2 = b.attempts.find((a) => a.target === 'v2')!;
    t.is(atV2.outcome, 'sigill');
    // The file comes from the process's mapping: the loader's process traps in the library on the disk.
    t.like(atV2.traps[0], { located: 'mapping', guestLevel: 'v2' });
    t.regex(atV2.traps[0]!.file ?? '', kind === 'library' ? /^\/mnt\/audit\/[0-9a-f]+\/liblgv3\.so$/ : /^\/mnt\/audit\/[0-9a-f]+\/lgv3(checked)?$/);
  }
  t.regex(library!.commands[0]!, /\/lg-load \/mnt\/audit\/[0-9a-f]+\/liblgv3\.so$/);
  t.regex(r.stdout, /bisect \S+\/lgv3 \(program\): runs at x86-64-v3; at x86-64-v2 killed by v\w+ \(AVX[^)]*\); static and dynamic agree: x86-64-v3/);
  // The run at the claimed level (v1) confirms the static finding: sure, the CPU check elsewhere hiding nothing.
  for (const name of ['/lgv3', '/lgv3checked']) {
    const pkg = run.packages.find((p) => p.id.endsWith(name))!;
    t.is(pkg.verdict, 'finding', name);
    t.like(pkg.findings[0], { needs: 'v3', allowed: 'v1', certainty: 'sure', confidence: 'confirmed' }, name);
    t.true(pkg.bisect![0]!.attempts.some((a) => a.target === 'v1' && a.outcome === 'sigill'), `${name} dies at v1 too`);
  }
  // The check elsewhere is there and seen (gcc's __cpu_indicator_init runs cpuid): it hides nothing.
  t.true(run.packages.find((p) => p.id.endsWith('/lgv3checked'))!.files[0]!.cpuChecks!.some((c) => /__cpu_indicator_init|cpuid/.test(c)));
  t.deepEqual(run.packages.find((p) => p.id.endsWith('/lgv3'))!.files[0]!.cpuChecks, []);
});

test.serial('audit --run bisect --near-miss v3-avx: three guests (v2, v3, the near miss named); the program runs at v3, at v2 an AVX instruction kills it, at v3 without AVX it dies of SIGILL', async (t) => {
  const json = path.join(scratch, 'near.json');
  const started = performance.now();
  const r = await cli(['audit', '--run', 'bisect', '--levels', 'v2,v3', '--near-miss', 'v3-avx', '--json', json, path.join(built, 'lgv3')]);
  t.log(`${((performance.now() - started) / 1000).toFixed(1)} s`, r.stdout);
  t.is(r.exitCode, 1, `a finding (an x86_64 file that needs v3): ${r.stderr.slice(-2000)}`);
  const run = JSON.parse(await readFile(json, 'utf8')) as AuditRun;
  t.deepEqual(run.bisectCost?.restores, { v2: 1, v3: 1, 'v3-avx': 1 }, 'one guest per level and one for the near miss: no other near miss is run');
  const [b] = run.packages.find((p) => p.id.endsWith('/lgv3'))!.bisect!;
  t.like(b, { kind: 'program', runsAt: 'v3', killedBelowBy: { level: 'v2', how: 'sigill' } });
  t.regex(b!.killedBelowBy!.mnemonic ?? '', /^v\w+$/, 'a VEX instruction');
  t.regex(b!.killedBelowBy!.extension ?? '', /AVX/);
  t.is(b!.nearMisses?.length, 1);
  const near = b!.nearMisses![0]!;
  t.like(near, { target: 'v3-avx', outcome: 'sigill' });
  // The near miss lacks only AVX: the instruction that traps there needs AVX, and the guest is the near miss.
  const trap = near.traps[0];
  if (trap?.kind !== 'trap') return t.fail(`no trap recorded at v3-avx: ${JSON.stringify(near.traps)}`);
  t.regex(trap.features.join(','), /AVX/);
  t.regex(trap.instruction ?? '', /^v\w+/);
});

test.serial('exec: a program a shell starts from /tmp that dies of SIGILL is named by its mapping, not looked up by name', async (t) => {
  const r = await cli(['exec', '--level', 'v2', '--data', `d=${built}`, '--', 'sh', '-c', 'cp /mnt/d/lgv3 /tmp/c && /tmp/c; echo shell-went-on']);
  t.log(r.stderr.split('\n').filter((l) => l.includes('SIGILL')).join('\n'));
  t.is(r.exitCode, 0, 'the shell went on');
  t.regex(r.stdout, /shell-went-on/);
  t.regex(r.stderr, /levelgate: SIGILL: \(no package\): \/tmp\/c\+0x[0-9a-f]+: v\w+ [^\n]* needs AVX[^\n]* \(x86-64-v3\); this guest is x86-64-v2/);
  t.notRegex(r.stderr, /no installed file is named/);
});
