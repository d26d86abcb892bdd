import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { dir as tmpDir } from 'tmp-promise';
import { BOCHS_SOURCE, buildCommands, checkDownload, dscFiles, LEAN_CONFIGURE, leanBochsKey, leanBochsRecipe, type LeanBochsRecipe } from '../../harness/guest/bochs-build-recipe.js';
import { downloadSource, missingBuildTools, type Fetcher } from '../../harness/guest/bochs-build.js';
import { bochsChoice, distroBochs, leanBochsProgram, resolveBochsEngine, type EngineDeps } from '../../harness/guest/bochs-engine.js';
import { bochsSnapshotInputs } from '../../harness/guest/bochs-snapshot.js';
import type { ImageArtifacts } from '../../harness/image/build.js';
import { UsageError } from '../../harness/util/errors.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

test('dscFiles reads the Checksums-Sha256 field of a .dsc and refuses a malformed one', (t) => {
  const dsc = [
    'Format: 3.0 (quilt)',
    'Checksums-Sha1:',
    ' dbf26104cabdba66bf3f18d05605f27cf3a6b23d 3733516 bochs_2.7+dfsg.orig.tar.xz',
    'Checksums-Sha256:',
    ' 29bbad1e0211eca773638b014b69d5ecca160aad7e094ecfe27eefbabddbaa20 3733516 bochs_2.7+dfsg.orig.tar.xz',
    ' e79477de3ae8faf1d4eb67205f40c7614b5240e783917f2623d71b4de5ff134f 35912 bochs_2.7+dfsg-4+deb12u1.debian.tar.xz',
    'Files:',
    ' a11279620579ea2a483c21d7c0064813 3733516 bochs_2.7+dfsg.orig.tar.xz',
  ].join('\n');
  t.deepEqual(dscFiles(dsc), [
    { sha256: '29bbad1e0211eca773638b014b69d5ecca160aad7e094ecfe27eefbabddbaa20', size: 3733516, name: 'bochs_2.7+dfsg.orig.tar.xz' },
    { sha256: 'e79477de3ae8faf1d4eb67205f40c7614b5240e783917f2623d71b4de5ff134f', size: 35912, name: 'bochs_2.7+dfsg-4+deb12u1.debian.tar.xz' },
  ]);
  t.throws(() => dscFiles('Format: 3.0\n'), { message: 'the .dsc has no Checksums-Sha256 field' });
  t.throws(() => dscFiles('Checksums-Sha256:\n abc 12 ../../etc/passwd\n'), { message: `the .dsc's Checksums-Sha256 has a malformed line: " abc 12 ../../etc/passwd"` });
  t.throws(() => dscFiles('Checksums-Sha256:\nFiles:\n'), { message: "the .dsc's Checksums-Sha256 lists no file" });
});

test('checkDownload names the file and what differs', (t) => {
  const bytes = Buffer.from('source');
  t.is(checkDownload('a.tar.xz', bytes, { size: 6, sha256: sha(bytes) }), undefined);
  t.is(checkDownload('a.tar.xz', bytes, { size: 7, sha256: sha(bytes) }), 'a.tar.xz: 6 bytes downloaded, the .dsc says 7');
  t.is(checkDownload('a.tar.xz', bytes, { size: 6, sha256: '0'.repeat(64) }), `a.tar.xz: SHA-256 ${sha(bytes)}, the .dsc says ${'0'.repeat(64)}`);
});

test('the lean recipe builds no debugger, instrumentation, SMP, plugins or host-specific code, and keeps what the bochsrc names', (t) => {
  for (const costly of ['--enable-debugger', '--enable-instrumentation', '--enable-smp', '--enable-plugins', '--enable-x86-debugger', '--enable-vmx', '--enable-svm', '--enable-memtype']) {
    t.false(LEAN_CONFIGURE.some((a) => a.startsWith(costly)), costly);
  }
  for (const needed of ['--enable-x86-64', '--enable-avx', '--enable-evex', '--enable-all-optimizations', '--enable-pci', '--with-rfb', '--enable-e1000', '--enable-sb16']) t.true(LEAN_CONFIGURE.includes(needed), needed);
  const recipe = leanBochsRecipe({});
  t.false(/-march/.test(recipe.cflags));
  t.is(recipe.mirror, 'http://deb.debian.org/debian');
  const steps = buildCommands(recipe, 'bochs_2.7+dfsg-4+deb12u1.dsc', 2);
  t.deepEqual(
    steps.map((s) => [s.file, ...s.args].slice(0, 4)),
    [
      ['dpkg-source', '--no-check', '-x', 'bochs_2.7+dfsg-4+deb12u1.dsc'],
      ['autoreconf', '-f', '-i'],
      ['./configure', '--enable-x86-64', '--enable-cpu-level=6', '--enable-avx'],
      ['make', '-j2', 'LIBTOOL=libtool', 'bochs'],
    ],
  );
  t.deepEqual(steps[2]!.env, { CFLAGS: recipe.cflags, CXXFLAGS: recipe.cflags });
});

test('the build key follows the source, its digest, the arguments and flags, not the mirror', (t) => {
  const recipe = leanBochsRecipe({});
  const key = leanBochsKey(recipe);
  t.regex(key, /^2\.7\+dfsg-4\+deb12u1-[0-9a-f]{12}$/);
  t.is(leanBochsKey({ ...recipe, mirror: 'http://mirror.example/debian' }), key);
  const variants: Partial<LeanBochsRecipe>[] = [
    { source: { ...BOCHS_SOURCE, version: '2.7+dfsg-4+deb12u2' } },
    { source: { ...BOCHS_SOURCE, dscSha256: '0'.repeat(64) } },
    { configure: [...LEAN_CONFIGURE, '--enable-smp'] },
    { cflags: '-O2' },
    { layout: 99 },
  ];
  t.is(new Set([key, ...variants.map((v) => leanBochsKey({ ...recipe, ...v }))]).size, variants.length + 1);
});

/** A mirror of one source package: the .dsc pinned by the recipe, its files as listed (or tampered with). */
function fakeMirror(files: Record<string, Buffer>, tamper: Record<string, Buffer> = {}): { recipe: LeanBochsRecipe; fetcher: Fetcher; asked: string[] } {
  const listed = Object.entries(files).map(([name, bytes]) => ` ${sha(bytes)} ${bytes.length} ${name}`);
  const dsc = Buffer.from(['Format: 3.0 (quilt)', 'Source: bochs', 'Checksums-Sha256:', ...listed, 'Files:', ''].join('\n'));
  const recipe: LeanBochsRecipe = { ...leanBochsRecipe({}), mirror: 'http://m/debian/', source: { ...BOCHS_SOURCE, dscSha256: sha(tamper['dsc'] ? Buffer.from('other') : dsc) } };
  const served: Record<string, Buffer> = { [`bochs_${BOCHS_SOURCE.version}.dsc`]: dsc, ...files, ...tamper };
  const asked: string[] = [];
  const fetcher: Fetcher = async (url) => {
    asked.push(url);
    const bytes = served[path.basename(url)];
    if (!bytes) throw new Error(`${url}: HTTP 404 Not Found`);
    return bytes;
  };
  return { recipe, fetcher, asked };
}

test('downloadSource fetches the pinned .dsc and every file it lists from the pool, each checked', async (t) => {
  const dir = await tmpDir({ unsafeCleanup: true });
  t.teardown(() => dir.cleanup());
  const files = { 'bochs_2.7+dfsg.orig.tar.xz': Buffer.from('orig'), 'bochs_2.7+dfsg-4+deb12u1.debian.tar.xz': Buffer.from('debian') };
  const { recipe, fetcher, asked } = fakeMirror(files);
  t.is(await downloadSource(recipe, dir.path, fetcher), 'bochs_2.7+dfsg-4+deb12u1.dsc');
  t.deepEqual(asked, [
    'http://m/debian/pool/main/b/bochs/bochs_2.7+dfsg-4+deb12u1.dsc',
    'http://m/debian/pool/main/b/bochs/bochs_2.7+dfsg.orig.tar.xz',
    'http://m/debian/pool/main/b/bochs/bochs_2.7+dfsg-4+deb12u1.debian.tar.xz',
  ]);
  t.is(await readFile(path.join(dir.path, 'bochs_2.7+dfsg.orig.tar.xz'), 'utf8'), 'orig');
});

test('downloadSource refuses a tampered file, a .dsc the recipe does not pin, and a missing file', async (t) => {
  const dir = await tmpDir({ unsafeCleanup: true });
  t.teardown(() => dir.cleanup());
  const files = { 'bochs_2.7+dfsg.orig.tar.xz': Buffer.from('orig') };
  const tampered = fakeMirror(files, { 'bochs_2.7+dfsg.orig.tar.xz': Buffer.from('evil') });
  await t.throwsAsync(downloadSource(tampered.recipe, dir.path, tampered.fetcher), { message: `the Bochs source package's download is damaged: bochs_2.7+dfsg.orig.tar.xz: SHA-256 ${sha('evil')}, the .dsc says ${sha('orig')}` });
  const otherDsc = fakeMirror(files, { dsc: Buffer.from('x') });
  await t.throwsAsync(downloadSource(otherDsc.recipe, dir.path, otherDsc.fetcher), { message: /^the Bochs source package does not match levelgate's recipe: bochs_2\.7\+dfsg-4\+deb12u1\.dsc: SHA-256 [0-9a-f]{64}, the recipe pins [0-9a-f]{64}$/ });
  const missing = fakeMirror(files);
  const fetcher: Fetcher = (url) => (url.endsWith('.orig.tar.xz') ? Promise.reject(new Error(`${url}: HTTP 404 Not Found`)) : missing.fetcher(url));
  await t.throwsAsync(downloadSource(missing.recipe, dir.path, fetcher), { message: 'http://m/debian/pool/main/b/bochs/bochs_2.7+dfsg.orig.tar.xz: HTTP 404 Not Found' });
});

test('missingBuildTools names the programs the build lacks', async (t) => {
  const missing = await missingBuildTools(async (command) => !['g++', 'libtool'].includes(command));
  t.deepEqual(
    missing.map((m) => [m.command, m.debianPackage]),
    [
      ['g++', 'g++'],
      ['libtool', 'libtool-bin'],
    ],
  );
});

function deps(overrides: Partial<EngineDeps> = {}): EngineDeps & { notices: string[]; remembered: string[]; builds: number } {
  const state = { notices: [] as string[], remembered: [] as string[], builds: 0 };
  return Object.assign(state, {
    choice: 'auto' as const,
    distroVersion: async () => '2.7+dfsg-4+deb12u1',
    buildLean: async () => {
      state.builds++;
      return { binary: '/cache/tools/bochs-k/bochs', key: 'k' };
    },
    digest: async (file: string) => {
      if (file === '/missing') throw new Error("ENOENT: no such file or directory, open '/missing'");
      return 'ab'.repeat(32);
    },
    rememberedFailure: async () => undefined,
    rememberFailure: async (reason: string) => void state.remembered.push(reason),
    notice: (line: string) => void state.notices.push(line),
    ...overrides,
  });
}

test('auto takes the lean build when it builds, with no notice', async (t) => {
  const d = deps();
  const engine = await resolveBochsEngine(d);
  t.deepEqual(engine.program, { name: 'lean', argv0: ['/cache/tools/bochs-k/bochs'], env: {}, romImage: '/usr/share/bochs/BIOS-bochs-latest', vgaRomImage: '/usr/share/vgabios/vgabios.bin', version: 'k', debugger: false });
  t.deepEqual(d.notices, []);
  t.is(d.builds, 1);
});

test('auto falls back to the distro Bochs with a one-line notice when the build fails, and remembers why', async (t) => {
  const d = deps({ buildLean: () => Promise.reject(new Error('building the lean Bochs needs g++\nmore')) });
  const engine = await resolveBochsEngine(d);
  t.deepEqual(engine.program, distroBochs('2.7+dfsg-4+deb12u1'));
  t.true(engine.program.debugger);
  t.is(engine.why, 'the lean build failed: building the lean Bochs needs g++');
  t.deepEqual(d.remembered, ['building the lean Bochs needs g++']);
  t.deepEqual(d.notices, ["notice: v4 runs under the distro's Bochs (slower): the lean Bochs could not be built (building the lean Bochs needs g++)"]);
});

test('auto does not try again a build that failed before; lean makes a failure an error; distro never builds', async (t) => {
  const remembered = deps({ rememberedFailure: async () => 'HTTP 404' });
  t.is((await resolveBochsEngine(remembered)).program.name, 'distro');
  t.is(remembered.builds, 0);
  t.deepEqual(remembered.notices, ["notice: v4 runs under the distro's Bochs (slower): the lean Bochs could not be built (HTTP 404); `levelgate setup` tries again"]);
  const lean = deps({ choice: 'lean', rememberedFailure: async () => 'HTTP 404', buildLean: () => Promise.reject(new Error('no g++')) });
  await t.throwsAsync(resolveBochsEngine(lean), { message: 'no g++' });
  t.deepEqual(lean.remembered, []);
  const distro = deps({ choice: 'distro' });
  t.deepEqual(await resolveBochsEngine(distro), { program: distroBochs('2.7+dfsg-4+deb12u1'), why: 'LEVELGATE_BOCHS=distro' });
  t.is(distro.builds, 0);
});

test('LEVELGATE_BOCHS is checked', (t) => {
  t.is(bochsChoice({}), 'auto');
  t.is(bochsChoice({ LEVELGATE_BOCHS: 'distro' }), 'distro');
  t.deepEqual(bochsChoice({ LEVELGATE_BOCHS: '/opt/bochs' }), { binary: '/opt/bochs' });
  const error = t.throws(() => bochsChoice({ LEVELGATE_BOCHS: 'fast' }), { instanceOf: UsageError });
  t.is(error?.message, 'LEVELGATE_BOCHS=fast is not a Bochs choice; known: auto, lean, distro, or the absolute path of a Bochs built without the debugger');
});

test('a given binary runs without the debugger prompt and is known by its content; a missing one is a usage error naming it', async (t) => {
  const given = await resolveBochsEngine(deps({ choice: { binary: '/opt/bochs' } }));
  t.like(given.program, { name: 'given', argv0: ['/opt/bochs'], version: `/opt/bochs sha256:${'ab'.repeat(8)}`, debugger: false });
  const error = await t.throwsAsync(resolveBochsEngine(deps({ choice: { binary: '/missing' } })), { instanceOf: UsageError });
  t.is(error?.message, "LEVELGATE_BOCHS=/missing: ENOENT: no such file or directory, open '/missing'");
});

test('a snapshot saved by one Bochs build is keyed apart from the other build', async (t) => {
  const dir = await tmpDir({ unsafeCleanup: true });
  t.teardown(() => dir.cleanup());
  const boot = path.join(dir.path, 'boot.img');
  const root = path.join(dir.path, 'root.img');
  await writeFile(boot, Buffer.alloc(516096));
  await writeFile(root, Buffer.alloc(516096 * 2));
  const image = { digest: 'd', bochsBootDisk: boot, rootDisk: root } as unknown as ImageArtifacts;
  const spec = { image, level: 'v4' as const, dataDisks: [] };
  const distro = await bochsSnapshotInputs({ ...spec, bochs: distroBochs('2.7+dfsg-4+deb12u1') });
  const lean = await bochsSnapshotInputs({ ...spec, bochs: leanBochsProgram({ binary: '/b', key: 'k1' }) });
  const otherLean = await bochsSnapshotInputs({ ...spec, bochs: leanBochsProgram({ binary: '/b', key: 'k2' }) });
  t.regex(distro.emulator, /^bochs distro 2\.7\+dfsg-4\+deb12u1, bochsbios /);
  t.regex(lean.emulator, /^bochs lean k1, bochsbios /);
  t.not(lean.emulator, otherLean.emulator);
  t.deepEqual({ ...distro, emulator: '' }, { ...lean, emulator: '' }, 'only the engine differs');
});
