import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { dir as tmpDir } from 'tmp-promise';
import { BOCHS_SOURCE, checkDownload, compileCommands, LEAN_CONFIGURE, leanBochsKey, leanBochsRecipe, patchCommand, patchSeries, unpackCommands, type LeanBochsRecipe } from '../../harness/guest/bochs-build-recipe.js';
import { downloadSource, type Fetcher } from '../../harness/guest/bochs-build.js';
import { HOST_TOOLS } from '../../harness/host/tools.js';
import { bochsChoice, distroBochs, leanBochsProgram, resolveBochsEngine, type EngineDeps } from '../../harness/guest/bochs-engine.js';
import { bochsSnapshotInputs } from '../../harness/guest/bochs-snapshot.js';
import type { ImageArtifacts } from '../../harness/image/build.js';
import { UsageError } from '../../harness/util/errors.js';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

test('patchSeries reads debian/patches/series in order, skips comments and options, and refuses a name outside the folder', (t) => {
  t.deepEqual(patchSeries('local-config.patch\n# a comment\n\nlocal-paths.patch -p1\nbuild-qemu-bios.patch # trailing\n'), ['local-config.patch', 'local-paths.patch', 'build-qemu-bios.patch']);
  t.deepEqual(patchSeries(''), []);
  t.throws(() => patchSeries('ok.patch\n../../evil.patch\n'), { message: 'debian/patches/series names a patch outside debian/patches: ../../evil.patch' });
  t.throws(() => patchSeries('/etc/passwd\n'), { message: 'debian/patches/series names a patch outside debian/patches: /etc/passwd' });
  t.deepEqual(patchCommand('local-paths.patch'), { title: 'apply debian/patches/local-paths.patch', file: 'patch', args: ['-p1', '--forward', '--batch', '-i', 'debian/patches/local-paths.patch'], inTree: true });
});

test('checkDownload names the file and what differs', (t) => {
  const bytes = Buffer.from('source');
  t.is(checkDownload('a.tar.xz', bytes, { size: 6, sha256: sha(bytes) }), undefined);
  t.is(checkDownload('a.tar.xz', bytes, { size: 7, sha256: sha(bytes) }), 'a.tar.xz: 6 bytes downloaded, the recipe pins 7');
  t.is(checkDownload('a.tar.xz', bytes, { size: 6, sha256: '0'.repeat(64) }), `a.tar.xz: SHA-256 ${sha(bytes)}, the recipe pins ${'0'.repeat(64)}`);
});

test('the lean recipe builds no debugger, instrumentation, SMP, plugins or host-specific code, and keeps what the bochsrc names', (t) => {
  for (const costly of ['--enable-debugger', '--enable-instrumentation', '--enable-smp', '--enable-plugins', '--enable-x86-debugger', '--enable-vmx', '--enable-svm', '--enable-memtype']) {
    t.false(LEAN_CONFIGURE.some((a) => a.startsWith(costly)), costly);
  }
  for (const needed of ['--enable-x86-64', '--enable-avx', '--enable-evex', '--enable-all-optimizations', '--enable-pci', '--with-rfb', '--enable-e1000', '--enable-sb16']) t.true(LEAN_CONFIGURE.includes(needed), needed);
  const recipe = leanBochsRecipe({});
  t.false(/-march/.test(recipe.cflags));
  t.is(recipe.mirror, 'http://deb.debian.org/debian');
  const steps = [...unpackCommands(recipe), ...compileCommands(recipe, 2)];
  t.deepEqual(
    steps.map((s) => [s.file, ...s.args].slice(0, 4)),
    [
      ['tar', '--one-top-level=src', '--strip-components=1', '-xf'],
      ['tar', '-xf', '../bochs_3.0+dfsg-1.debian.tar.xz'],
      ['autoreconf', '-f', '-i'],
      ['./configure', '--enable-x86-64', '--enable-cpu-level=6', '--enable-avx'],
      ['make', '-j2', 'LIBTOOL=libtool', 'bochs'],
    ],
  );
  t.is(steps[0]!.args.at(-1), 'bochs_3.0+dfsg.orig.tar.xz');
  t.deepEqual(steps[3]!.env, { CFLAGS: recipe.cflags, CXXFLAGS: recipe.cflags });
});

test('the build key follows the source, its digest, the arguments and flags, not the mirror', (t) => {
  const recipe = leanBochsRecipe({});
  const key = leanBochsKey(recipe);
  t.regex(key, /^3\.0\+dfsg-1-[0-9a-f]{12}$/);
  t.is(leanBochsKey({ ...recipe, mirror: 'http://mirror.example/debian' }), key);
  const variants: Partial<LeanBochsRecipe>[] = [
    { source: { ...BOCHS_SOURCE, version: '3.0+dfsg-2' } },
    { source: { ...BOCHS_SOURCE, orig: { ...BOCHS_SOURCE.orig, sha256: '0'.repeat(64) } } },
    { source: { ...BOCHS_SOURCE, debian: { ...BOCHS_SOURCE.debian, size: 1 } } },
    { configure: [...LEAN_CONFIGURE, '--enable-smp'] },
    { cflags: '-O2' },
    { layout: 99 },
  ];
  t.is(new Set([key, ...variants.map((v) => leanBochsKey({ ...recipe, ...v }))]).size, variants.length + 1);
});

/** A mirror serving `served` by file name; the recipe pins `pinned` (what the files should be). */
function fakeMirror(pinned: { orig: Buffer; debian: Buffer }, served: Record<string, Buffer>): { recipe: LeanBochsRecipe; fetcher: Fetcher; asked: string[] } {
  const pin = (name: string, bytes: Buffer) => ({ name, size: bytes.length, sha256: sha(bytes) });
  const recipe: LeanBochsRecipe = {
    ...leanBochsRecipe({}),
    mirror: 'http://m/debian/',
    source: { ...BOCHS_SOURCE, orig: pin('bochs_3.0+dfsg.orig.tar.xz', pinned.orig), debian: pin('bochs_3.0+dfsg-1.debian.tar.xz', pinned.debian) },
  };
  const asked: string[] = [];
  const fetcher: Fetcher = async (url) => {
    asked.push(url);
    const bytes = served[path.basename(url)];
    if (!bytes) throw new Error(`${url}: HTTP 404 Not Found`);
    return bytes;
  };
  return { recipe, fetcher, asked };
}

const PINNED = { orig: Buffer.from('orig'), debian: Buffer.from('debian') };

test('downloadSource fetches the pinned files from the pool, each checked', async (t) => {
  const dir = await tmpDir({ unsafeCleanup: true });
  t.teardown(() => dir.cleanup());
  const { recipe, fetcher, asked } = fakeMirror(PINNED, { 'bochs_3.0+dfsg.orig.tar.xz': PINNED.orig, 'bochs_3.0+dfsg-1.debian.tar.xz': PINNED.debian });
  await downloadSource(recipe, dir.path, fetcher);
  t.deepEqual(asked, ['http://m/debian/pool/main/b/bochs/bochs_3.0+dfsg.orig.tar.xz', 'http://m/debian/pool/main/b/bochs/bochs_3.0+dfsg-1.debian.tar.xz']);
  t.is(await readFile(path.join(dir.path, 'bochs_3.0+dfsg.orig.tar.xz'), 'utf8'), 'orig');
  t.is(await readFile(path.join(dir.path, 'bochs_3.0+dfsg-1.debian.tar.xz'), 'utf8'), 'debian');
});

test('downloadSource refuses a tampered file and a missing one, naming it', async (t) => {
  const dir = await tmpDir({ unsafeCleanup: true });
  t.teardown(() => dir.cleanup());
  const tampered = fakeMirror(PINNED, { 'bochs_3.0+dfsg.orig.tar.xz': Buffer.from('evil'), 'bochs_3.0+dfsg-1.debian.tar.xz': PINNED.debian });
  await t.throwsAsync(downloadSource(tampered.recipe, dir.path, tampered.fetcher), {
    message: `the Bochs source package's download is not what levelgate's recipe pins: bochs_3.0+dfsg.orig.tar.xz: SHA-256 ${sha('evil')}, the recipe pins ${sha('orig')}`,
  });
  const missing = fakeMirror(PINNED, { 'bochs_3.0+dfsg.orig.tar.xz': PINNED.orig });
  await t.throwsAsync(downloadSource(missing.recipe, dir.path, missing.fetcher), { message: 'http://m/debian/pool/main/b/bochs/bochs_3.0+dfsg-1.debian.tar.xz: HTTP 404 Not Found' });
});

test("the build's programs are host tools of purpose bochs-build, each with the package that provides it (requireTools names the missing ones)", (t) => {
  const build = HOST_TOOLS.filter((tool) => tool.purpose === 'bochs-build').map((tool) => [tool.command, tool.debianPackage]);
  for (const needed of [
    ['g++', 'g++'],
    ['patch', 'patch'],
    ['libtool', 'libtool-bin'],
  ]) {
    t.true(build.some(([c, p]) => c === needed[0] && p === needed[1]), needed.join(' from '));
  }
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
