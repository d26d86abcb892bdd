// `gate --list`: the cells a run would plan, with the image each boots and the
// accelerator that would run it (from the probe answers earlier runs cached; "not
// probed" without them) or why it would be skipped. No package is installed, no
// image built, nothing boots: QEMU need not be installed.
import path from 'node:path';
import { accelOrder, chooseAccel, type AccelChoice } from '../accel/choose.js';
import { type AccelRequest } from '../model/accel.js';
import { imageAccelChoice } from '../accel/image-backend.js';
import { cachedProbes } from '../accel/probe.js';
import { cachedImageFacts } from '../guest/cloud-snapshot.js';
import { findImage, imagePaths } from '../image/build.js';
import { inspectImageFile } from '../image/cloud/inspect.js';
import type { Cell } from '../plan/plan.js';
import { errorMessage } from '../util/errors.js';
import { driverUnavailableIn } from '../run/distribution.js';
import { planRun, type RunOptions } from './run-project.js';

export interface ListedCell {
  readonly id: string;
  readonly scenario: string;
  readonly target: string;
  readonly level: string;
  readonly driver: string;
  /** "default guest <digest>" or the distribution image's name. */
  readonly image: string;
  /** The accelerator that would run it; null when none would (skip) or the host was not probed. */
  readonly accel: string | null;
  /** Why that accelerator, or "not probed: ...". */
  readonly why: string;
  /** Why the cell would be skipped, when it would. */
  readonly skip?: string;
}

export interface ListedPlan {
  readonly configFile?: string;
  readonly accelRequest: AccelRequest;
  readonly image: string;
  /** Whether the accelerators come from cached probe answers. */
  readonly probed: boolean;
  readonly cells: readonly ListedCell[];
}

const NOT_PROBED = 'not probed: no cached probe answers for this host and image (levelgate setup, doctor or a run probes; none of them ran since the last boot, or QEMU is not installed)';

export async function listPlan(options: RunOptions): Promise<ListedPlan> {
  const { resolved, image, cells } = await planRun(options);
  const request = options.accel ?? resolved.project.config.accel ?? 'auto';
  // The default guest's digest comes from its recipe: known without building it.
  const guest = await imagePaths();
  const built = await findImage();
  const probes = await cachedProbes(guest.digest);
  let imageName = `default guest ${guest.digest.slice(0, 12)}${built ? '' : ' (not built yet)'}`;
  let adjust = (choice: AccelChoice): AccelChoice => choice;
  let driverSkip: (cell: Cell) => string | undefined = () => undefined;
  if (image) {
    imageName = image.name ?? path.basename(image.path);
    try {
      const cloud = await inspectImageFile(image.path, image.where ?? '--image', image.name);
      adjust = (choice) => imageAccelChoice(choice, cloud);
      const facts = await cachedImageFacts(cloud);
      if (facts) driverSkip = (cell) => driverUnavailableIn(cloud, facts)(cell.driver);
    } catch (error) {
      imageName += ` (not inspected: ${errorMessage(error)})`;
    }
  }
  const listed = cells.map((cell): ListedCell => {
    const base = { id: cell.id, scenario: cell.scenario.id, target: cell.target.name, level: cell.level, driver: cell.driver, image: imageName };
    const skipDriver = driverSkip(cell);
    if (!probes) return { ...base, accel: null, why: NOT_PROBED, ...(skipDriver ? { skip: skipDriver } : {}) };
    const choice = adjust(chooseAccel(cell.target.name, request, probes));
    // A run probes what the cache lacks: without its answer the cell is not known to be skipped.
    const unasked = accelOrder(request).filter((a) => !probes.some((p) => p.accel === a && p.target === cell.target.name));
    if (choice.accel === null && unasked.length > 0) return { ...base, accel: null, why: `not probed: no cached answer for ${unasked.join(', ')} at ${cell.target.name}`, ...(skipDriver ? { skip: skipDriver } : {}) };
    if (choice.accel === null) return { ...base, accel: null, why: 'no accelerator', skip: choice.skipReason };
    return { ...base, accel: choice.accel, why: choice.why, ...(skipDriver ? { skip: skipDriver } : {}) };
  });
  return { ...(resolved.project.configFile ? { configFile: resolved.project.configFile } : {}), accelRequest: request, image: imageName, probed: probes !== undefined, cells: listed };
}

/** One line per cell, aligned, then the totals. */
export function listLines(plan: ListedPlan): string[] {
  const width = Math.max(...plan.cells.map((c) => c.id.length));
  const lines = plan.cells.map((c) => `${c.id.padEnd(width)}  ${c.target.padEnd(13)} ${c.driver.padEnd(7)} ${(c.accel ?? '-').padEnd(5)} ${c.skip ? `skip: ${c.skip}` : c.why}`);
  const skipped = plan.cells.filter((c) => c.skip).length;
  lines.push(
    '',
    `${plan.cells.length} cell${plan.cells.length === 1 ? "" : "s"} (${skipped} would be skipped) on ${plan.image}, accelerator ${plan.accelRequest}${plan.probed ? ' (from cached probe answers)' : `; ${NOT_PROBED}`}`,
  );
  return lines;
}
