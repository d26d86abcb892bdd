// Installs the host's missing Debian packages (as root) before a run needs them, so
// `npx levelgate gate` in a project works on a fresh machine as `./levelgate` does.
import { execa } from 'execa';
import { InfrastructureError } from '../util/errors.js';
import { silentLog, timedStep, type Log } from '../util/log.js';
import { exists } from './cache.js';
import { probeTools, type HostTool } from './tools.js';

export async function ensureHostPackages(purposes: readonly HostTool['purpose'][], log: Log = silentLog): Promise<void> {
  const missing = (await probeTools(purposes)).filter((t) => !t.version).map((t) => t.tool.debianPackage);
  if (missing.length === 0) return;
  const packages = [...new Set(missing)];
  if (process.getuid?.() !== 0) {
    throw new InfrastructureError(`missing Debian packages: ${packages.join(' ')}`, { hint: `as root: apt-get install ${packages.join(' ')}` });
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await timedStep(log, `apt-get install ${packages.join(' ')}`, async () => {
    await execa('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  });
}

/** Installs the Debian package that ships `file` (firmware, not a command) when the file is missing. */
export async function ensurePackageFile(file: string, debianPackage: string, log: Log = silentLog): Promise<void> {
  if (await exists(file)) return;
  if (process.getuid?.() !== 0) throw new InfrastructureError(`${file} is missing`, { hint: `as root: apt-get install ${debianPackage}` });
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await timedStep(log, `apt-get install ${debianPackage}`, async () => {
    await execa('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    await execa('apt-get', ['install', '-y', '-qq', '--no-install-recommends', debianPackage], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  });
}
