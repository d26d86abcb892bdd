// `levelgate setup`: installs the host's Debian packages (as root), builds the guest
// image and probes the accelerators, so the first real run starts at once.
import { probeForRequest } from '../harness/accel/probe.js';
import { ensureImage } from '../harness/image/build.js';
import { ensureHostPackages } from '../harness/host/install.js';
import { stderrLog, timedStep } from '../harness/util/log.js';
import { createRunContext, exitCodeFor, reportError } from './run-context.js';
import { EXACT_TARGETS } from '../harness/levels/targets.js';

export async function setupCommand(args: string[]): Promise<number> {
  const context = createRunContext();
  try {
    await ensureHostPackages(['guests', 'image', 'reports', 'bochs', 'audit'], stderrLog);
    const image = await ensureImage({ log: stderrLog, signal: context.signal, rebuild: args.includes('--rebuild') });
    stderrLog(`image ${image.digest}: ${image.dir}`);
    const probes = await timedStep(stderrLog, 'probe accelerators', () => probeForRequest('auto', EXACT_TARGETS, image, { refresh: true }));
    for (const p of probes) stderrLog(`  ${p.works ? '✓' : '✗'} ${p.accel} ${p.target}: ${p.reason}`);
    return 0;
  } catch (error) {
    reportError(error);
    return exitCodeFor(error, context);
  } finally {
    context.dispose();
  }
}
