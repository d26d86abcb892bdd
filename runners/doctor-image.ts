// `levelgate doctor --image PATH`: what levelgate finds in a distribution image and what
// is missing for a gate on it: its format and partition table (so its firmware), then,
// from one boot at the first level this host provides (the snapshot a gate would make
// anyway, cached), its os-release, kernel, glibc, command channel and package managers.
import { chooseAccel } from '../harness/accel/choose.js';
import { imageAccelChoice, imageBackends } from '../harness/accel/image-backend.js';
import { probeForRequest } from '../harness/accel/probe.js';
import { ensureHostPackages, ensurePackageFile } from '../harness/host/install.js';
import { OVMF_CODE } from '../harness/guest/distribution-machine.js';
import { cachedImageFacts } from '../harness/guest/cloud-snapshot.js';
import { ensureImage } from '../harness/image/build.js';
import { inspectImageFile, versionOf } from '../harness/image/cloud/inspect.js';
import { ensureCloudSupport } from '../harness/image/cloud/support.js';
import { LEVEL_NAMES } from '../harness/levels/table.js';
import { EXACT_TARGETS } from '../harness/levels/targets.js';
import { BackendGuests } from '../harness/run/session.js';
import { DRIVER_TOOL, driverUnavailableIn, imageFactsOf } from '../harness/run/distribution.js';
import { DRIVER_NAMES } from '../harness/model/package-manager.js';
import { LevelgateError } from '../harness/util/errors.js';
import { stderrLog } from '../harness/util/log.js';
import type { RunContext } from './run-context.js';

export async function doctorImage(file: string, refresh: boolean, context: RunContext): Promise<number> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  await ensureHostPackages(['guests', 'cloud'], stderrLog);
  const image = await inspectImageFile(file);
  out(`Image ${image.path}`);
  out(`  ✓ ${image.format}, ${(image.virtualSize / 2 ** 30).toFixed(1)} GiB, sha256 ${image.sha256}`);
  out(`  ✓ ${image.table.kind} partition table: ${image.table.partitions.join('; ') || 'none'}`);
  out(`  ✓ boots through ${image.firmware === 'bios' ? 'SeaBIOS (the disk has a BIOS boot path)' : 'UEFI: OVMF (the disk has only an EFI system partition)'}`);
  if (image.firmware === 'uefi') await ensurePackageFile(OVMF_CODE, 'ovmf', stderrLog);
  const defaultImage = await ensureImage({ log: stderrLog, signal: context.signal });
  const probes = await probeForRequest('auto', EXACT_TARGETS, defaultImage, { refresh });
  const levels = LEVEL_NAMES.map((level) => ({ level, choice: imageAccelChoice(chooseAccel(level, 'auto', probes), image) }));
  const support = await ensureCloudSupport({ log: stderrLog, signal: context.signal });
  const guests = new BackendGuests({ image: defaultImage, dataDisks: [], snapshots: true, backends: imageBackends(image, support), log: stderrLog, signal: context.signal });
  out('');
  const gaps: string[] = [];
  let facts = refresh ? undefined : await cachedImageFacts(image);
  if (facts) out('What an earlier boot of this image found (cached; --refresh boots it again):');
  else out('Booting it once (cached: a gate reuses what this boot finds)…');
  try {
    facts ??= await imageFactsOf(guests, levels.map((l) => ({ level: l.level, accel: l.choice.accel })), image);
  } catch (error) {
    out(`  ✗ it did not boot to a command channel: ${error instanceof LevelgateError ? error.describe() : String(error)}`);
    out('');
    out('To do');
    out("  - the image needs qemu-guest-agent (enabled, with guest-exec), or cloud-init (levelgate's NoCloud seed then starts levelgate's own agent); its console tail above shows how far it got");
    return 3;
  }
  out(`  ✓ ${facts.os} (${Object.entries(facts.osRelease).filter(([k]) => ['ID', 'VERSION_ID', 'VERSION_CODENAME'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ')})`);
  out(`  ✓ kernel ${facts.kernel}, glibc ${facts.glibc}`);
  out(`  ✓ commands through ${facts.channel}`);
  out(`  ${facts.tools['qemu-ga'] ? '✓' : '-'} qemu-guest-agent: ${facts.tools['qemu-ga'] ?? "missing (levelgate's agent runs instead, started by cloud-init from its NoCloud seed)"}`);
  out(`  ${facts.tools['cloud-init'] ? '✓' : '-'} cloud-init: ${facts.tools['cloud-init'] ?? 'missing'}`);
  const unavailable = driverUnavailableIn(image, facts);
  out('');
  out('Package managers (each a driver of the gate)');
  for (const driver of DRIVER_NAMES) {
    const why = unavailable(driver);
    const tool = DRIVER_TOOL[driver];
    out(`  ${why ? '✗' : '✓'} ${driver.padEnd(7)} ${why ?? `${facts.tools[tool]} (${versionOf(facts.tools[tool])})`}`);
    if (why) gaps.push(`the ${driver} cells will be skipped: ${why}`);
  }
  if (facts.tools.rpm === null) gaps.push('without rpm no driver can run: this image cannot be gated');
  out('');
  out('Levels (each booted at its own pinned CPU; the proof runs in the image)');
  for (const { level, choice } of levels) out(choice.accel ? `  ✓ ${level}  ${choice.accel}` : `  ✗ ${level}  skipped: ${choice.skipReason}`);
  out('');
  if (gaps.length) {
    out('To do');
    for (const gap of gaps) out(`  - ${gap}`);
  } else out('Nothing to fix.');
  return facts.tools.rpm === null ? 3 : 0;
}
