// `levelgate setup`: installs the host's Debian packages (as root), builds the guest
// image and probes the accelerators, so the first real run starts at once.
import { probeForRequest } from '../harness/accel/probe.js';
import { ensureImage } from '../harness/image/build.js';
import { bochsEngine, forgetLeanBochsFailure } from '../harness/guest/bochs-engine.js';
import { ensureHostPackages } from '../harness/host/install.js';
import { stderrLog, timedStep } from '../harness/util/log.js';
import { EXACT_TARGETS } from '../harness/levels/targets.js';
import { defineCommand } from './command.js';

export const SETUP_USAGE = `usage: levelgate setup [--rebuild]

Installs the host's Debian packages (QEMU, Bochs, the compilers the lean Bochs is built
with, the image and report tools; as root), builds the guest image and the lean Bochs
(cached) and probes every accelerator at every level, so the first gate starts at once.

  --rebuild    build the guest image again even when it is cached

Exit: 0 ready; 2 bad usage; 3 a package, the image build or a probe failed.`;

export const setupCommand = defineCommand({
  name: 'setup',
  usage: SETUP_USAGE,
  options: { rebuild: { type: 'boolean', default: false } },
  async run(values, _positionals, context) {
    await ensureHostPackages(['guests', 'image', 'reports', 'bochs', 'bochs-build', 'audit'], stderrLog);
    const image = await ensureImage({ log: stderrLog, signal: context.signal, rebuild: values.rebuild ?? false });
    stderrLog(`image ${image.digest}: ${image.dir}`);
    // The v4 engine: the lean Bochs built now (a failure remembered before is tried again).
    await forgetLeanBochsFailure();
    const engine = await bochsEngine({ log: stderrLog, signal: context.signal });
    stderrLog(`v4 runs under ${engine.program.name === 'lean' ? `the lean Bochs ${engine.program.version}` : `the distro's Bochs: ${engine.why}`}`);
    const probes = await timedStep(stderrLog, 'probe accelerators', () => probeForRequest('auto', EXACT_TARGETS, image, { refresh: true }));
    for (const p of probes) stderrLog(`  ${p.works ? '✓' : '✗'} ${p.accel} ${p.target}: ${p.reason}`);
    return 0;
  },
});
