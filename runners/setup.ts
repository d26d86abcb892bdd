// `levelgate setup`: installs the host's Debian packages (as root), builds the guest
// image and probes the accelerators, so the first real run starts at once.
import { execa } from 'execa';
import { LEVEL_NAMES } from '../harness/levels/table.js';
import { probeForRequest } from '../harness/accel/probe.js';
import { ensureImage } from '../harness/image/build.js';
import { probeTools } from '../harness/host/tools.js';
import { InfrastructureError } from '../harness/util/errors.js';
import { stderrLog, timedStep } from '../harness/util/log.js';
import { createRunContext, exitCodeFor, reportError } from './run-context.js';

export async function installHostPackages(log = stderrLog): Promise<void> {
  const missing = (await probeTools(['guests', 'image', 'reports', 'audit'])).filter((t) => !t.version).map((t) => t.tool.debianPackage);
  if (missing.length === 0) return;
  const packages = [...new Set(missing)];
  if (process.getuid?.() !== 0) {
    throw new InfrastructureError(`missing Debian packages: ${packages.join(' ')}`, { hint: `as root: apt-get install ${packages.join(' ')}` });
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await timedStep(log, `apt-get install ${packages.join(' ')}`, async () => {
    await execa('apt-get', ['update', '-qq'], { env, stdio: 'inherit' });
    await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, stdio: 'inherit' });
  });
}

export async function setupCommand(args: string[]): Promise<number> {
  const context = createRunContext();
  try {
    await installHostPackages();
    const image = await ensureImage({ log: stderrLog, signal: context.signal, rebuild: args.includes('--rebuild') });
    stderrLog(`image ${image.digest}: ${image.dir}`);
    const probes = await timedStep(stderrLog, 'probe accelerators', () => probeForRequest('auto', LEVEL_NAMES, image, { refresh: true }));
    for (const p of probes) stderrLog(`  ${p.works ? '✓' : '✗'} ${p.accel} ${p.level}: ${p.reason}`);
    return 0;
  } catch (error) {
    reportError(error);
    return exitCodeFor(error, context);
  } finally {
    context.dispose();
  }
}
