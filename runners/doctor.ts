// `levelgate doctor`: what is installed, which accelerators really work, which levels
// this host can provide, and the fix for each gap.
import { access, constants as fsConstants } from 'node:fs/promises';
import { chooseAccel } from '../harness/accel/choose.js';
import { type AccelRequest } from '../harness/model/accel.js';
import { probeForRequest } from '../harness/accel/probe.js';
import { findImage, imagePaths } from '../harness/image/build.js';
import { cacheRoot } from '../harness/host/cache.js';
import { LEVEL_NAMES } from '../harness/levels/table.js';
import { installHint, probeTools } from '../harness/host/tools.js';
import { EXACT_TARGETS, exactTarget } from '../harness/levels/targets.js';
import { expectedFidelity } from '../harness/accel/fidelity.js';
import { doctorImage } from './doctor-image.js';
import { EMULATOR_CHOICE, hostQemu, QEMU_BINARY } from '../harness/guest/emulator.js';
import { describeBochsEngine } from '../harness/guest/bochs-engine.js';
import { levelgateCommand } from '../harness/util/invocation.js';
import { defineCommand } from './command.js';

export const DOCTOR_USAGE = `usage: levelgate doctor [--refresh] [--image PATH]

What is installed, which accelerators really run guests, which levels this host can
provide (and with which fidelity), and the fix for each gap.

  --refresh          probe the accelerators again instead of reading the cached answers
                     (with --image: boot the image again instead of its cached facts)
  --image PATH       what levelgate finds in a distribution image and what a gate on it
                     lacks: format, firmware, os-release, glibc, command channel, package managers

Exit: 0 nothing blocks a gate; 2 bad usage; 3 QEMU or the image tools are missing (or the image cannot be gated).`;

export const doctorCommand = defineCommand({
  name: 'doctor',
  usage: DOCTOR_USAGE,
  options: { refresh: { type: 'boolean', default: false }, image: { type: 'string' } },
  run: async (values, _positionals, context) => (values.image !== undefined ? doctorImage(values.image, values.refresh ?? false, context) : doctorHost(values.refresh ?? false)),
});

async function doctorHost(refresh: boolean): Promise<number> {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const gaps: string[] = [];

  out('Host programs');
  const tools = await probeTools(['guests', 'bochs', 'bochs-build', 'image', 'reports', 'audit']);
  for (const { tool, version } of tools) {
    out(`  ${version ? '✓' : '✗'} ${tool.command.padEnd(20)} ${version ?? `missing (Debian package ${tool.debianPackage})`}`);
  }
  const missing = tools.filter((t) => t.version === undefined).map((t) => t.tool);
  if (missing.length) gaps.push(`install the missing programs: ${installHint(missing)}`);
  const isRoot = process.getuid?.() === 0;
  out(`  ${isRoot ? '✓' : '!'} ${'root'.padEnd(20)} ${isRoot ? 'yes (can build the guest image)' : 'no: building the guest image needs root once'}`);

  out('');
  out(`Guest image (cache: ${cacheRoot()})`);
  const image = await findImage();
  if (image) {
    const p = image.manifest.packages;
    out(`  ✓ ${image.digest}  kernel ${image.manifest.kernel.release}; rpm ${p.rpm ?? '?'}, dnf5 ${p.dnf5 ?? '?'}, zypper ${p.zypper ?? '?'}, libc6 ${p.libc6 ?? '?'}`);
  } else {
    const { digest } = await imagePaths();
    out(`  - ${digest} not built yet: the first exec builds it (about a minute), or run ${levelgateCommand()} setup`);
  }

  out('');
  out('Accelerators');
  let kvmDevice = false;
  try {
    await access('/dev/kvm', fsConstants.R_OK | fsConstants.W_OK);
    kvmDevice = true;
  } catch {
    // no device
  }
  if (!missing.some((t) => t.command === QEMU_BINARY)) {
    const qemu = await hostQemu();
    out(`  ✓ QEMU ${qemu.version} (${qemu.name}, the host's ${QEMU_BINARY}) runs guests: ${EMULATOR_CHOICE.why}`);
  }
  out(`  ✓ Bochs for v4: ${await describeBochsEngine()}`);
  out(`  ${kvmDevice ? '✓' : '✗'} /dev/kvm ${kvmDevice ? 'opens (whether it runs guests is probed below)' : 'is missing or not accessible'}`);
  if (!image || missing.some((t) => t.purpose === 'guests')) {
    out(`  - probes need QEMU and the guest image; run ${levelgateCommand()} setup`);
  } else {
    // Probes what auto would use: KVM (when the device opens) and TCG for every level, Bochs for the rest.
    const request: AccelRequest = 'auto';
    const probes = await probeForRequest(request, EXACT_TARGETS, image, { refresh });
    for (const p of probes) {
      if (p.accel === 'kvm' && !kvmDevice && !p.works) continue;
      out(`  ${p.works ? '✓' : '✗'} ${p.accel.padEnd(5)} ${p.target}  ${p.reason}`);
    }
    out('');
    out('Levels (accelerator chosen by --accel auto: KVM where it traps, else QEMU TCG, else Bochs)');
    for (const level of LEVEL_NAMES) {
      const choice = chooseAccel(level, request, probes);
      if (choice.accel) out(`  ✓ ${level}  ${choice.accel} (fidelity ${expectedFidelity(choice.accel, exactTarget(level))}): ${choice.why}`);
      else {
        out(`  ✗ ${level}  skipped: ${choice.skipReason}`);
        if (level === 'v4') gaps.push('v4 needs an emulator with AVX-512: KVM on an AVX-512 host, or Bochs (apt-get install bochs bochsbios vgabios; QEMU TCG has no AVX-512)');
      }
    }
  }
  out('');
  if (gaps.length) {
    out('To do');
    for (const gap of gaps) out(`  - ${gap}`);
  } else out('Nothing to fix.');
  return missing.some((t) => t.purpose === 'guests' || t.purpose === 'image') ? 3 : 0;
}
