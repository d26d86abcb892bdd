// Finds out by trying whether an accelerator can run a guest with a level's CPU: boot
// the guest kernel and initramfs with that CPU (`enforce`) straight into busybox,
// which prints a marker and powers off. A KVM whose device node opens, and which even
// runs a real-mode boot sector, may still hang or fail once Linux starts (nested or
// paravirtual KVM without VMX/SVM): only a kernel boot proves it. QEMU refuses a CPU
// the accelerator cannot provide before it starts, so those answers come at once.
// Bochs is probed the same way, by booting the real guest (and proving its level).
// Results are cached per host boot, emulator versions and image.
import { access, readFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import PQueue from 'p-queue';
import type { ImageArtifacts } from '../image/build.js';
import { cacheRoot } from '../image/cache.js';
import { qemuCpuArgument } from '../levels/qemu-cpu.js';
import type { LevelName } from '../levels/table.js';
import { BOCHS_ROM, BOCHS_VGA_ROM, BochsGuest } from '../guest/bochs-guest.js';
import { debianPackageVersion, probeTools } from '../host/tools.js';
import type { QemuAccel } from '../guest/qemu-args.js';
import { QEMU_BINARY } from '../guest/qemu-guest.js';
import { errorMessage } from '../util/errors.js';
import { accelOrder, type Accel, type AccelRequest } from './choose.js';

export interface ProbeResult {
  readonly accel: Accel;
  readonly level: LevelName;
  readonly works: boolean;
  /** Why not, in QEMU's words where it gave any. */
  readonly reason: string;
  readonly durationMs: number;
}

const MARKER = 'LGPROBEOK';
/** A TCG boot to the marker takes ~2.5 s here, KVM well under 1 s. */
const PROBE_TIMEOUT_MS = 12_000;

export function explainProbeFailure(accel: QemuAccel, output: string, timedOut: boolean): string {
  const line = (re: RegExp) => output.split('\n').find((l) => re.test(l))?.trim();
  const unsupported = line(/doesn't support requested feature/);
  if (unsupported) return `${accel.toUpperCase()} cannot provide this CPU: ${unsupported}`;
  const kvmBroken = line(/KVM internal error|emulation failure|failed to set MSR|kvm run failed/i);
  if (kvmBroken) return `KVM opens but cannot run guests (nested or paravirtual KVM?): ${kvmBroken}`;
  const noKvm = line(/Could not access KVM|failed to initialize kvm|No such file or directory/i);
  if (noKvm) return `KVM is not available: ${noKvm}`;
  if (timedOut) return `${accel.toUpperCase()} did not boot the guest kernel within ${PROBE_TIMEOUT_MS / 1000} s${accel === 'kvm' ? ' (a KVM that opens but cannot run guests, e.g. nested or paravirtual)' : ''}`;
  return output.trim().split('\n').slice(-2).join(' ').trim() || `${accel} probe failed without output`;
}

export async function probeAccel(accel: QemuAccel, level: LevelName, image: ImageArtifacts, qemuBinary = QEMU_BINARY): Promise<ProbeResult> {
  const started = performance.now();
  const result = await execa(
    qemuBinary,
    [
      '-machine', 'q35', '-accel', accel, '-cpu', qemuCpuArgument(level), '-m', '256', '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none', '-nic', 'none', '-no-reboot',
      '-serial', 'stdio', '-kernel', image.kernel, '-initrd', image.initrd,
      '-append', `console=ttyS0 quiet panic=-1 rdinit=/bin/busybox -- sh -c "echo ${MARKER}; busybox poweroff -f"`,
    ],
    { stdin: 'ignore', all: true, reject: false, timeout: PROBE_TIMEOUT_MS, forceKillAfterDelay: 1000, cleanup: true },
  );
  const output = result.all ?? '';
  const works = result.exitCode === 0 && output.includes(MARKER);
  return {
    accel,
    level,
    works,
    reason: works ? 'booted the guest kernel' : explainProbeFailure(accel, output, result.timedOut),
    durationMs: Math.round(performance.now() - started),
  };
}

/** Boots a Bochs guest at `level` (boot, agent, level proof) and stops it. */
export async function probeBochs(level: LevelName, image: ImageArtifacts): Promise<ProbeResult> {
  const started = performance.now();
  const done = (works: boolean, reason: string): ProbeResult => ({ accel: 'bochs', level, works, reason, durationMs: Math.round(performance.now() - started) });
  // The programs (bochs, unshare, ip: host/tools.ts) and the BIOS images Bochs loads.
  const tools = (await probeTools(['bochs'])).filter((t) => t.version === undefined).map((t) => t.tool);
  const files = await Promise.all(
    [BOCHS_ROM, BOCHS_VGA_ROM].map((file) =>
      access(file).then(
        () => undefined,
        () => file,
      ),
    ),
  );
  const missing = [...tools.map((t) => `no ${t.command}`), ...files.filter((f): f is string => f !== undefined)];
  if (missing.length > 0) {
    const packages = new Set(['bochs', 'bochsbios', 'vgabios', ...tools.map((t) => t.debianPackage)]);
    return done(false, `Bochs is not installed (${missing.join(', ')}): apt-get install ${[...packages].join(' ')}`);
  }
  try {
    const guest = await BochsGuest.boot({ image, level, memoryMiB: 512 });
    await guest.dispose();
    return done(true, `booted the guest and proved ${level} (${guest.facts.cpu})`);
  } catch (error) {
    return done(false, `Bochs did not run a ${level} guest: ${errorMessage(error).split('\n')[0]}`);
  }
}

async function cacheKey(qemuBinary: string, image: ImageArtifacts): Promise<string> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => 'unknown')).trim();
  const version = (await execa(qemuBinary, ['--version'], { reject: false })).stdout.split('\n')[0] ?? '';
  const bochs = (await debianPackageVersion('bochs')) ?? 'no-bochs';
  return `${bootId} ${version} bochs ${bochs} ${image.digest}`;
}

/**
 * Probes what `request` may use for `levels`. auto probes KVM and TCG everywhere, and
 * Bochs (a guest boot of ~15 s) only for the levels neither provides.
 */
export async function probeForRequest(request: AccelRequest, levels: readonly LevelName[], image: ImageArtifacts, options: { refresh?: boolean } = {}): Promise<ProbeResult[]> {
  const order = accelOrder(request);
  const qemu = order.filter((a): a is QemuAccel => a !== 'bochs');
  const first = qemu.length > 0 ? await probeAll(qemu, levels, image, options) : [];
  if (!order.includes('bochs')) return first;
  const uncovered = levels.filter((level) => !first.some((p) => p.level === level && p.works));
  return [...first, ...(uncovered.length > 0 ? await probeAll(['bochs'], uncovered, image, options) : [])];
}

/** Probes each (accel, level) pair once per host boot and QEMU version. */
export async function probeAll(
  accels: readonly Accel[],
  levels: readonly LevelName[],
  image: ImageArtifacts,
  options: { qemuBinary?: string; cacheDir?: string; refresh?: boolean } = {},
): Promise<ProbeResult[]> {
  const qemuBinary = options.qemuBinary ?? QEMU_BINARY;
  const file = path.join(options.cacheDir ?? cacheRoot(), 'probes.json');
  const key = await cacheKey(qemuBinary, image);
  let cached: { key: string; results: ProbeResult[] } = { key, results: [] };
  if (!options.refresh) {
    try {
      const stored = JSON.parse(await readFile(file, 'utf8')) as typeof cached;
      if (stored.key === key) cached = stored;
    } catch {
      // no cache yet
    }
  }
  // Two probes at a time: a KVM that hangs costs its full time limit, and TCG boots take a core each.
  const queue = new PQueue({ concurrency: 2 });
  const pairs = accels.flatMap((accel) => levels.map((level) => ({ accel, level })));
  const missing = pairs.filter(({ accel, level }) => !cached.results.some((r) => r.accel === accel && r.level === level));
  const fresh = await Promise.all(
    missing.map(({ accel, level }) => queue.add(() => (accel === 'bochs' ? probeBochs(level, image) : probeAccel(accel, level, image, qemuBinary))) as Promise<ProbeResult>),
  );
  cached.results.push(...fresh);
  const results = pairs.map(({ accel, level }) => cached.results.find((r) => r.accel === accel && r.level === level)!);
  if (fresh.length > 0) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(cached, null, 2)}\n`);
  }
  return results;
}
