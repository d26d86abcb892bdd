// A distribution's own image as the guest (--image), on the stand-in cloud image built
// from Debian sid packages (partitioned disk, its own kernel, initramfs and GRUB,
// systemd, cloud-init, qemu-guest-agent, rpm, dnf5, zypper): it boots at v1, v2 and v3
// through its own bootloader, proves each level, says what it is, and gives the catalog's
// verdicts of the default guest with its own package managers; a disk moved to an older
// CPU cold-boots the image's disk there; the variant without qemu-guest-agent answers
// through levelgate's agent from the NoCloud seed, and is laid out unlike the first (no
// zypper, no /etc/yum.repos.d or /etc/zypp). Snapshots make all but the first run cheap.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import test from 'ava';
import { ensureStandInImage } from '../../harness/image/cloud/build.js';
import { planCells, type Cell } from '../../harness/plan/plan.js';
import type { CellResult } from '../../harness/results/types.js';
import { runCell, type CellEnvironment } from '../../harness/run/cell.js';
import { prepareRun, type Prepared } from '../../harness/run/prepare.js';
import type { BackendGuests } from '../../harness/run/session.js';
import { exactTarget } from '../../harness/levels/targets.js';
import { CATALOG } from '../../scenarios/index.js';
import { KNOWN_ISSUES } from '../../scenarios/known-issues.js';
import { leftovers, removeScratch, scratchDir } from './helpers.js';

const CLI = fileURLToPath(new URL('../../runners/cli.js', import.meta.url));
const TODAY = '2026-12-01';
const LONG = 20 * 60_000;

let scratch: string;
let onImage: Prepared;
let onDefault: Prepared;

test.before(async () => {
  scratch = await scratchDir('cloud-image');
  const standIn = await ensureStandInImage('qga');
  onImage = await prepareRun(CATALOG, 'auto', { image: { request: { path: standIn.disk, name: 'stand-in' }, levels: ['v1', 'v2', 'v3'] } });
  onDefault = await prepareRun(CATALOG, 'auto');
});

test.after.always(async () => {
  await removeScratch(scratch);
});

const env = (prepared: Prepared, label: string): CellEnvironment => ({ ...prepared, knownIssues: KNOWN_ISSUES, evidenceDir: path.join(scratch, label), today: TODAY });
/** The default guest's result for a cell, run once for the file: the reference several tests compare the image with (detection[v2,rpm] is one of two). */
const references = new Map<string, Promise<CellResult>>();
function reference(cell: Cell): Promise<CellResult> {
  let result = references.get(cell.id);
  if (!result) {
    result = runCell(cell, env(onDefault, 'default'));
    references.set(cell.id, result);
  }
  return result;
}
const summary = (r: CellResult, leaveOut?: RegExp) => r.steps.map((s) => [s.title, s.level, s.installedAfter, s.checks.filter((c) => !leaveOut?.test(c.check)).map((c) => `${c.check}: ${c.status}`)]);
/** The detectors the stand-in image cannot answer: it has no pacman and, like every Debian image, no varianttable for apt. */
const IMAGE_LACKS = /^detector (apt-variants|apt-test-table|pacman-arch)$/;

test.serial('the image boots at v1, v2 and v3 through its own bootloader, proves each level in the guest, and says what it is', async (t) => {
  t.timeout(LONG);
  t.is(onImage.distribution!.facts.os, 'Debian GNU/Linux forky/sid');
  t.regex(onImage.distribution!.facts.channel, /^levelgate-agent 1 \S+, started through the image's qemu-guest-agent 11\.\d+\.\d+$/);
  t.regex(onImage.distribution!.facts.tools.dnf5 ?? '', /^dnf5 version 5\./);
  t.regex(onImage.distribution!.facts.tools.zypper ?? '', /^zypper 1\./);
  t.is(onImage.distribution!.image.firmware, 'bios');
  const guests = onImage.guests as BackendGuests;
  for (const level of ['v1', 'v2', 'v3'] as const) {
    const snapshot = (await guests.snapshot(exactTarget(level), 'tcg'))!;
    t.true(snapshot.proof.ok, snapshot.proof.problems.join('; '));
    t.is(snapshot.proof.proven, level);
    t.is(snapshot.proof.fidelity, 'traps');
    const disk = await snapshot.newDiskState(path.join(scratch, `disk-${level}`));
    const guest = await snapshot.restore({ image: onImage.artifacts, level, disk, dataDisks: onImage.dataDisks, tmpDir: scratch });
    try {
      t.is(guest.proof.proven, level);
      t.true(guest.timings.bootToReadyMs < 30_000, `restored in ${guest.timings.bootToReadyMs} ms`);
      // The image's own rpm reads the level too.
      const arch = await guest.exec(['sh', '-c', 'rpm --showrc | grep "^install arch"']);
      t.regex(arch.stdout.trim(), new RegExp(`^install arch\\s*: ${level === "v1" ? "x86_64" : `x86_64_${level}`}$`));
      t.is((await guest.exec(['cat', '/etc/hostname'])).stdout.trim(), 'levelgate');
    } finally {
      await guest.dispose();
    }
  }
});

const SCENARIOS = ['detection', 'glibc-hwcaps', 'local-file-v3'];

/** Whether each path exists in the image, asked in a guest restored from its v2 snapshot. */
async function layoutOf(prepared: Prepared, paths: readonly string[]): Promise<string[]> {
  const guests = prepared.guests as BackendGuests;
  const snapshot = (await guests.snapshot(exactTarget('v2'), 'tcg'))!;
  const disk = await snapshot.newDiskState(path.join(scratch, 'disk-layout'));
  const guest = await snapshot.restore({ image: prepared.artifacts, level: 'v2', disk, dataDisks: prepared.dataDisks, tmpDir: scratch });
  try {
    const answers: string[] = [];
    for (const p of paths) answers.push(`${p}: ${(await guest.exec(['test', '-e', p])).exitCode === 0 ? 'present' : 'absent'}`);
    return answers;
  } finally {
    await guest.dispose();
  }
}

test.serial(`${SCENARIOS.join(', ')}: the same verdicts and installed sets on the image as on the default guest, every driver, at v3 and v2`, async (t) => {
  t.timeout(LONG);
  const cells = planCells(CATALOG, { scenarios: SCENARIOS, targets: ['v3', 'v2'] });
  t.true(cells.length >= 9);
  for (const cell of cells) {
    const image = await runCell(cell, env(onImage, 'image'));
    const onDefaultGuest = await reference(cell);
    t.is(image.verdict, onDefaultGuest.verdict, `${cell.id}: image ${image.verdict} (${image.reason}) vs default ${onDefaultGuest.verdict} (${onDefaultGuest.reason})`);
    // The stand-in is a plain Debian image: no pacman and no varianttable, so those detectors are skips there (answered on the default guest).
    t.deepEqual(
      image.steps.flatMap((st) => st.checks.filter((c) => IMAGE_LACKS.test(c.check)).map((c) => `${c.check}: ${c.status}`)),
      cell.scenario.id === 'detection' ? ['detector apt-variants: skip', 'detector apt-test-table: skip', 'detector pacman-arch: skip'] : [],
    );
    t.deepEqual(summary(image, IMAGE_LACKS), summary(onDefaultGuest, IMAGE_LACKS), cell.id);
    t.like(image.facts, { start: 'snapshot', image: { name: 'stand-in', os: 'Debian GNU/Linux forky/sid', glibc: onImage.distribution!.facts.glibc }, imageDigest: onImage.distribution!.image.digest });
    t.regex(image.facts?.packageManager ?? '', cell.driver === 'rpm' ? /^rpm 6\./ : new RegExp(`^${cell.driver} \\d`));
  }
});

test.serial("moved-to-older-cpu: the image's disk is powered off and cold-boots through its bootloader at the lower level, with the default guest's verdict", async (t) => {
  t.timeout(LONG);
  const cell = planCells(CATALOG, { scenarios: ['moved-to-older-cpu'], targets: ['v3'], drivers: ['zypper'] })[0]!;
  const image = await runCell(cell, env(onImage, 'image-move'));
  const reference = await runCell(cell, env(onDefault, 'default-move'));
  t.deepEqual(image.proofs.map((p) => p.proven), ['v3', 'v2']);
  t.is(image.verdict, reference.verdict, `${image.reason} vs ${reference.reason}`);
  t.deepEqual(summary(image), summary(reference));
});

test.serial('a v4 cell on the image is a skip that says why (Bochs cannot boot a distribution image here)', async (t) => {
  const cell = planCells(CATALOG, { scenarios: ['detection'], targets: ['v4'], drivers: ['rpm'] })[0]!;
  const result = await runCell(cell, env(onImage, 'image-v4'));
  t.is(result.verdict, 'skip');
  t.regex(result.reason, /^v4 needs Bochs on this host .* levelgate boots image stand-in under QEMU only/);
});

test.serial('an image without qemu-guest-agent, laid out unlike the stand-in (no zypper, no /etc/yum.repos.d or /etc/zypp), answers through levelgate-agent started by cloud-init; dnf5 cells judge as on the default guest, zypper cells are skips that say why', async (t) => {
  t.timeout(LONG);
  const standIn = await ensureStandInImage('noqga');
  const prepared = await prepareRun(CATALOG, 'tcg', { image: { request: { path: standIn.disk, name: 'stand-in-noqga' }, levels: ['v2'] } });
  t.regex(prepared.distribution!.facts.channel, /^levelgate-agent 1 \S+, started by cloud-init from the NoCloud seed$/);
  t.is(prepared.distribution!.facts.tools['qemu-ga'], null);
  t.is(prepared.distribution!.facts.tools.zypper, null);
  const [detection] = planCells(CATALOG, { scenarios: ['detection'], targets: ['v2'], drivers: ['rpm'] });
  const result = await runCell(detection!, env(prepared, 'noqga'));
  // The same reference cell as the comparison above (run once for the file).
  const onDefaultGuest = await reference(detection!);
  t.is(result.verdict, onDefaultGuest.verdict, result.reason);
  t.deepEqual(result.proofs.map((p) => p.proven), ['v2']);
  // The layout is what the test says it is: the directories an rpm distribution ships are not there.
  t.deepEqual(await layoutOf(prepared, ['/etc/yum.repos.d', '/etc/zypp']), ['/etc/yum.repos.d: absent', '/etc/zypp: absent']);
  // dnf5 makes its own repository and cache directories: the same verdict and installed sets as on the default guest.
  for (const cell of planCells(CATALOG, { scenarios: ['fresh-install-mixed'], targets: ['v2'], drivers: ['dnf5', 'zypper'] })) {
    const image = await runCell(cell, env(prepared, 'noqga-layout'));
    if (cell.driver === 'zypper') {
      t.is(image.verdict, 'skip', image.reason);
      t.regex(image.reason, /image stand-in-noqga \(Debian GNU\/Linux forky\/sid\) has no zypper: the zypper cells cannot run in it/);
      continue;
    }
    const onGuest = await runCell(cell, env(onDefault, 'noqga-layout-default'));
    t.is(image.verdict, onGuest.verdict, `${cell.id}: image ${image.verdict} (${image.reason}) vs default ${onGuest.verdict} (${onGuest.reason})`);
    t.deepEqual(summary(image), summary(onGuest), cell.id);
  }
});

test.serial('levelgate doctor --image says what the image has, from the boot a gate made', async (t) => {
  const run = await execa('node', [CLI, 'doctor', '--image', onImage.distribution!.image.path], { reject: false, all: true });
  t.is(run.exitCode, 0, run.all);
  t.regex(run.stdout, /boots through SeaBIOS/);
  t.regex(run.stdout, /✓ Debian GNU\/Linux forky\/sid/);
  t.regex(run.stdout, /commands through levelgate-agent 1 \S+, started through the image's qemu-guest-agent/);
  t.regex(run.stdout, /✓ dnf5 +dnf5 version 5\./);
  t.regex(run.stdout, /✗ v4 +skipped: v4 needs Bochs/);
  t.deepEqual((await leftovers(scratch)).processes, []);
});
