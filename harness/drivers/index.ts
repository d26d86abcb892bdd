// The drivers by name.
import type { DriverName } from '../model/package-manager.js';
import type { DriverContext, PackageDriver } from './driver.js';
import { apt } from './apt.js';
import { dnf5, dnf5Driver } from './dnf5.js';
import { pacman } from './pacman.js';
import { rpm } from './rpm.js';
import { zypper } from './zypper.js';

export const DRIVERS: Readonly<Record<DriverName, PackageDriver>> = { dnf5, zypper, rpm, apt, pacman };

/** The drivers for a guest of another context (a distribution image's $releasever). */
export function driversFor(context: DriverContext): Readonly<Record<DriverName, PackageDriver>> {
  return { dnf5: dnf5Driver(context), zypper, rpm, apt, pacman };
}
