// The order a run dispatches its cells in: the longest first, estimated from what each
// cell does and how slow its backend is, so the last minutes are not one long cell
// alone (longest-processing-time-first). Pure and deterministic; reports keep the plan's order.
import type { StepAction } from '../scenario/types.js';
import type { DriverName } from '../model/package-manager.js';
import type { Cell } from './plan.js';

/**
 * What one package-manager command costs a driver, relative to dnf5's (fitted by eye
 * to the v3 gate's cell times, 2026-12-07: zypper and apt refresh and solve slower,
 * rpm reads little). Only the order matters: a rough estimate is enough.
 */
const DRIVER_WEIGHT: Readonly<Record<DriverName, number>> = { rpm: 0.5, pacman: 0.8, dnf5: 1, zypper: 1.3, apt: 1.5 };

/** A step's cost in units of one dnf5 command: a release upgrade is several transactions; a move or reboot boots the disk cold. */
function stepCost(action: StepAction, driver: number): number {
  switch (action.kind) {
    case 'operation':
    case 'list-updates':
    case 'pin':
      return driver;
    case 'release-upgrade':
      return 4 * driver;
    case 'install-file':
    case 'repos':
      return 0.5 * driver;
    case 'move-to':
    case 'reboot':
      return 4;
    case 'detect':
      return 0.3;
    case 'set-env':
    case 'override-arch':
      return 0.1;
  }
}

/** The cell's estimated time, in units of one dnf5 command under QEMU TCG: its steps, plus the start and detectors every cell pays. */
export function estimatedCost(cell: Cell, slowdown: number): number {
  const driver = DRIVER_WEIGHT[cell.driver];
  const steps = cell.scenario.steps.reduce((sum, step) => sum + stepCost(step.action, driver), 0);
  return slowdown * (1 + steps);
}

/**
 * The cells in dispatch order: the most expensive first (the backend's slowdown puts
 * Bochs cells ahead of every TCG cell), ties kept in plan order.
 */
export function longestFirst(cells: readonly Cell[], slowdownOf: (cell: Cell) => number): Cell[] {
  return cells
    .map((cell, index) => ({ cell, index, cost: estimatedCost(cell, slowdownOf(cell)) }))
    .sort((a, b) => b.cost - a.cost || a.index - b.index)
    .map((e) => e.cell);
}
