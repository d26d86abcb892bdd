// What levelgate brings to a full-distribution image, read-only and never over a
// network: a data disk with its static agent and canaries (mounted at
// /usr/lib/levelgate, where the default guest has them), and a NoCloud seed for
// cloud-init that mounts that disk on every boot and, where the image has no
// qemu-guest-agent, starts levelgate-agent as a service on the port levelgate.agent.
// Both are built once per content and cached.
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { makeDataDisk } from '../../host/data-disk.js';
import { ensureHostPackages } from '../../host/install.js';
import { InfrastructureError } from '../../util/errors.js';
import { silentLog, timedStep, type Log } from '../../util/log.js';
import { cacheRoot, ensureCached, writeJson } from '../../host/cache.js';
import { guestSourcePath } from '../recipe.js';

/** The tools disk's name: its virtio serial is lg-levelgate, its ext4 label levelgate. */
export const TOOLS_DISK_NAME = 'levelgate';
export const GUEST_TOOLS_DIR = '/usr/lib/levelgate';
/** cloud-init's instance id: the same for every boot of an image, so per-instance work is done once (in the snapshot's boot). */
export const SEED_INSTANCE_ID = 'levelgate';

export interface CloudSupport {
  readonly digest: string;
  readonly dir: string;
  /** ext4 image: agent and canary, static. */
  readonly toolsDisk: string;
  /** ISO 9660 labelled cidata: meta-data and user-data. */
  readonly seed: string;
}

/**
 * Starts levelgate-agent as a service of the image's own init (a transient systemd unit:
 * it runs as a service, not inside the SELinux domain or process of whoever asked).
 * The seed runs it where the image has no qemu-guest-agent; through qemu-guest-agent,
 * levelgate runs it itself.
 */
export const START_AGENT_ARGV: readonly string[] = [
  'systemd-run',
  '--unit=levelgate-agent',
  // Started at once, whatever the boot is doing: cloud-init's bootcmd runs before
  // sysinit.target, which a unit with default dependencies would wait for (a deadlock).
  '-p',
  'DefaultDependencies=no',
  '--description=levelgate command agent (levelgate.agent port)',
  '-p',
  'Restart=always',
  '--setenv=HOME=/root',
  '--setenv=LANG=C.UTF-8',
  '--setenv=TERM=dumb',
  `${GUEST_TOOLS_DIR}/agent`,
];

/** cloud-init's user data: every boot (bootcmd) mounts the tools and, without qemu-guest-agent, starts levelgate-agent. */
export function seedUserData(): string {
  const script = [
    `mkdir -p ${GUEST_TOOLS_DIR}`,
    `mountpoint -q ${GUEST_TOOLS_DIR} || mount -t ext4 -o ro,noload /dev/disk/by-label/${TOOLS_DISK_NAME} ${GUEST_TOOLS_DIR}`,
    // The image's own agent is preferred; levelgate's only where there is none.
    'if [ -x /usr/bin/qemu-ga ] || [ -x /usr/sbin/qemu-ga ]; then exit 0; fi',
    `${START_AGENT_ARGV.map((a) => (/[\s()]/.test(a) ? `"${a}"` : a)).join(' ')}`,
  ].join('; ');
  return [
    '#cloud-config',
    "# levelgate's NoCloud seed: no users, no network, no packages; the image's own tools do the rest.",
    'bootcmd:',
    `  - [sh, -c, ${JSON.stringify(script)}]`,
    '',
  ].join('\n');
}

export function seedMetaData(): string {
  return `instance-id: ${SEED_INSTANCE_ID}\nlocal-hostname: levelgate\n`;
}

async function digestOf(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(seedUserData());
  hash.update(seedMetaData());
  for (const name of ['agent.c', 'canary.c'] as const) hash.update(await readFile(guestSourcePath(name)));
  return hash.digest('hex').slice(0, 16);
}

async function load(dir: string, digest: string): Promise<CloudSupport | undefined> {
  try {
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { digest: string };
    if (manifest.digest !== digest) return undefined;
    const support = { digest, dir, toolsDisk: path.join(dir, 'tools.img'), seed: path.join(dir, 'seed.iso') };
    await Promise.all([stat(support.toolsDisk), stat(support.seed)]);
    return support;
  } catch {
    return undefined;
  }
}

/** The tools disk and the seed, built once per content. */
export async function ensureCloudSupport(options: { cacheDir?: string; log?: Log; signal?: AbortSignal } = {}): Promise<CloudSupport> {
  const log = options.log ?? silentLog;
  const digest = await digestOf();
  const dir = path.join(options.cacheDir ?? cacheRoot(), 'cloud-support', digest);
  return ensureCached({
    dir,
    what: `levelgate's tools disk and NoCloud seed ${digest}`,
    load: () => load(dir, digest),
    log,
    ...(options.signal ? { signal: options.signal } : {}),
    build: async (staging) => {
      await ensureHostPackages(['cloud'], log);
      const tools = path.join(staging, 'tools');
      const seed = path.join(staging, 'seed');
      await mkdir(tools, { recursive: true });
      await mkdir(seed, { recursive: true });
      await timedStep(log, 'compile levelgate-agent and the canaries (gcc -march=x86-64 -static)', async () => {
        for (const [source, output] of [['agent.c', 'agent'], ['canary.c', 'canary']] as const) {
          const result = await execa('gcc', ['-O2', '-march=x86-64', '-static', '-Wall', '-Werror', '-o', path.join(tools, output), guestSourcePath(source)], { reject: false, all: true });
          if (result.failed) throw new InfrastructureError(`cannot compile ${source}: ${result.shortMessage}`, { details: result.all ?? '' });
        }
      });
      await makeDataDisk(TOOLS_DISK_NAME, tools, path.join(staging, 'tools.img'));
      await writeFile(path.join(seed, 'user-data'), seedUserData());
      await writeFile(path.join(seed, 'meta-data'), seedMetaData());
      await timedStep(log, 'make the NoCloud seed (genisoimage, volume cidata)', async () => {
        const result = await execa('genisoimage', ['-quiet', '-output', path.join(staging, 'seed.iso'), '-volid', 'cidata', '-joliet', '-rock', path.join(seed, 'user-data'), path.join(seed, 'meta-data')], { reject: false, all: true });
        if (result.failed) throw new InfrastructureError(`cannot make the NoCloud seed: ${result.shortMessage}`, { details: result.all ?? '' });
      });
      for (const file of ['tools.img', 'seed.iso']) await chmod(path.join(staging, file), 0o444);
      await writeJson(path.join(staging, 'manifest.json'), { digest, createdAt: new Date().toISOString() });
    },
  });
}
