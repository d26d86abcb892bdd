// The drivers by name.
import type { DriverName } from '../scenario/types.js';
import type { PackageDriver } from './driver.js';
import { dnf5 } from './dnf5.js';
import { rpm } from './rpm.js';
import { zypper } from './zypper.js';

export const DRIVERS: Readonly<Record<DriverName, PackageDriver>> = { dnf5, zypper, rpm };
