// The package-manager steps a compose guest runs, shared by the selection audit and the
// release upgrade: a repository enabled under its attached name (its caches warm from
// the snapshot), the installed set read from the rpm database, and one batch installed
// with the tool's verdict as a batch outcome (a refusal names the batch's names the
// tool's message is about).
import type { PackageDriver as Driver } from '../drivers/driver.js';
import { parseNevra, type AvailablePackage } from '../packages/available.js';
import { guestAttachedPath, type AttachedRepo } from '../repos/catalog.js';
import type { CommandRecord } from '../results/types.js';
import type { BatchOutcome } from './batches.js';
import { recorded, type GuestRunner } from './run-checks.js';
import { linesAbout } from './selection.js';

/**
 * Writes the repository's configuration for the driver, under the id the snapshot's
 * warm-up loaded it with; a failure throws with its last lines. No refresh of its own:
 * the snapshot's caches are of this very disk (the snapshot's key includes it), and the
 * tools check them on their own calls (zypper autorefresh=1 past its refresh delay, dnf5
 * metadata_expire=0), so an explicit `zypper refresh` only paid one more start of the
 * tool (about 30 s under Bochs at a load of 11).
 */
export async function enableRepo(runner: GuestRunner, driver: Driver, repo: AttachedRepo): Promise<void> {
  const setup = driver.configureRepos([{ id: repo.name, path: guestAttachedPath(repo.name) }]);
  for (const c of setup.commands) {
    const r = await runner.guest.exec(c.argv, { timeoutMs: runner.commandMs, ...(c.input !== undefined ? { input: c.input } : {}) });
    if (r.exitCode !== 0) throw new Error(`${r.command}: exit ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Every installed package, from the rpm database. */
export async function installedPackages(runner: GuestRunner, driver: Driver): Promise<AvailablePackage[]> {
  const r = await runner.guest.exec(driver.installedQuery.argv, { timeoutMs: runner.commandMs });
  if (r.exitCode !== 0) throw new Error(`${r.command}: exit ${r.exitCode}`);
  return driver.parseInstalled(r.stdout).flatMap((n) => parseNevra(n) ?? []);
}

/** Installs one batch of names: ok, refused (with the names the tool blamed), or throws on a tool error. */
export async function installBatch(runner: GuestRunner, driver: Driver, batch: readonly string[]): Promise<BatchOutcome<{ record: CommandRecord; ms: number }>> {
  const t = performance.now();
  const { result, record } = await recorded(runner, driver.operation('install', batch)!.argv, 'action', runner.commandMs);
  const judged = driver.judge('operation', result);
  const value = { record, ms: performance.now() - t };
  if (judged.kind === 'ok') return { kind: 'ok', value };
  if (judged.kind === 'refused') return { kind: 'refused', value, suspects: batch.filter((n) => linesAbout(n, `${result.stdout}\n${result.stderr}`)) };
  throw new Error(`${driver.name} install: ${judged.message}`);
}
