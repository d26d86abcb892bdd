// A release-N system for the upgrade at compose scale, made once and kept as a snapshot:
// the warm-up that installs the names from release N with one driver (in batches; a
// batch the tool refuses is retried one name at a time, each lone failure's output kept
// on the guest's disk), and what a restored guest reads back to judge each name's
// installation. The snapshot store keys it with these commands (driver, names, batches)
// and the repositories' disk (the compose's contents), so any change makes a new one.
import type { PackageDriver } from '../drivers/driver.js';
import type { GuestCommand } from '../model/guest.js';
import { guestAttachedPath, type AttachedRepo } from '../repos/catalog.js';
import { chunk } from './batches.js';

/** Where the population leaves its evidence in the guest: `failed` (one name a line) and NAME.log per name that failed alone. */
export const POPULATE_DIR = '/var/lib/levelgate/populate';

/**
 * The one script every batch runs (a constant: the install command is its arguments,
 * the names come on stdin, one a line, so nothing from the compose is ever shell text).
 * The batch at once; if refused, each name alone, a failure's output in NAME.log and
 * its name in `failed`. Always exits 0: a refused name is that name's verdict, read
 * after the restore, never a failed snapshot.
 */
export const POPULATE_SCRIPT = [
  'set -f',
  // The directory can be moved for a test on the host (the guest never sets it).
  `d=\${LEVELGATE_POPULATE_DIR:-${POPULATE_DIR}}`,
  'mkdir -p "$d"',
  'names=$(cat)',
  'if "$@" $names >"$d/last-batch.log" 2>&1; then exit 0; fi',
  'for n in $names; do "$@" "$n" >"$d/$n.log" 2>&1 || echo "$n" >>"$d/failed"; done',
  'exit 0',
].join('\n');

/** The warm-up commands that install `names` from `repo` with `driver`, `batch` names at a time, then drop the repository file. */
export function populateWarmUp(driver: PackageDriver, repo: AttachedRepo, names: readonly string[], batch: number): GuestCommand[] {
  const install = driver.operation('install', []);
  if (!install) throw new Error(`${driver.name} has no install operation`);
  const setup = driver.configureRepos([{ id: repo.name, path: guestAttachedPath(repo.name) }]);
  return [
    ...setup.commands,
    ...(setup.refresh ? [setup.refresh] : []),
    ...chunk([...names].sort(), batch).map((names) => ({ argv: ['sh', '-c', POPULATE_SCRIPT, 'populate', ...install.argv], input: `${names.join('\n')}\n` })),
    ...setup.commands.filter((c) => c.argv[0] === 'tee').map((c) => ({ argv: ['rm', '-f', c.argv[1]!] })),
  ];
}

/** The names the population could not install, from the `failed` file's text. */
export const parseFailed = (text: string): string[] => [...new Set(text.split('\n').map((l) => l.trim()).filter(Boolean))].sort();
