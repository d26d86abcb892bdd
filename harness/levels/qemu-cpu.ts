// The QEMU `-cpu` argument that pins a guest to exactly one level, or to a near miss.
import type { CpuTarget } from './targets.js';
import { exactTarget, targetAbsentFeatures, targetFeatures } from './targets.js';
import type { LevelName } from './table.js';

/**
 * Why every level is built by hand on qemu64 rather than taken from a named model:
 * - QEMU has no x86-64-vN models, and `qemu64` itself carries v2 bits (pni, cx16,
 *   lahf-lm), so plain qemu64 is not a v1 CPU.
 * - Named models (Nehalem, Haswell-noTSX, Skylake-Server-noTSX-IBRS) bring bits TCG
 *   cannot emulate (pcid, x2apic, tsc-deadline, invpcid): with `enforce` they fail
 *   under TCG, without it QEMU silently drops them. kola hard-codes Nehalem under TCG
 *   for this reason (RHBZ#2060839) and so never tests a strict level.
 * - `xsaveopt` rides along with `xsave`: qemu64,+xsave without +xsaveopt hangs the
 *   Linux 6.1 kernel at boot.
 * - Every feature above the level is removed explicitly, so a future qemu64 that gains
 *   a bit cannot silently lift the level.
 * - `enforce` makes QEMU refuse to start when the accelerator cannot provide a bit
 *   (TCG and AVX-512), instead of starting a lower CPU than asked for.
 * A near miss is built the same way, with its one missing feature among the removed.
 * `host` and `max` are never used for a pinned level.
 */
export function qemuCpuArgument(level: LevelName | CpuTarget): string {
  const target = typeof level === 'string' ? exactTarget(level) : level;
  const props: string[] = [];
  for (const feature of targetFeatures(target)) {
    if (feature.qemu) props.push(`+${feature.qemu}`);
    if (feature.qemu === 'xsave') props.push('+xsaveopt');
  }
  for (const feature of targetAbsentFeatures(target)) {
    if (feature.qemu) props.push(`-${feature.qemu}`);
    if (feature.qemu === 'xsave') props.push('-xsaveopt');
  }
  return ['qemu64', ...props, 'enforce'].join(',');
}
