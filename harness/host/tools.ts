// The host programs levelgate runs, the Debian packages that provide them, and a
// check that names what is missing and how to install it.
import path from 'node:path';
import { execa } from 'execa';
import { cacheRoot } from './cache.js';
import { memoByFile } from '../util/file-memo.js';
import { InfrastructureError } from '../util/errors.js';
import { levelgateCommand } from '../util/invocation.js';

export interface HostTool {
  readonly command: string;
  readonly debianPackage: string;
  /** What needs it. */
  readonly purpose: 'guests' | 'bochs' | 'bochs-build' | 'image' | 'reports' | 'audit' | 'cloud';
  /** Arguments that print its version (first line kept). */
  readonly versionArgs: readonly string[];
  /** The command prints no version: report its Debian package's. */
  readonly versionFromPackage?: boolean;
}

export const HOST_TOOLS: readonly HostTool[] = [
  { command: 'qemu-system-x86_64', debianPackage: 'qemu-system-x86', purpose: 'guests', versionArgs: ['--version'] },
  { command: 'qemu-img', debianPackage: 'qemu-utils', purpose: 'guests', versionArgs: ['--version'] },
  { command: 'mkfs.ext4', debianPackage: 'e2fsprogs', purpose: 'guests', versionArgs: ['-V'] },
  // Bochs: v4 (AVX-512) without a KVM that runs guests. Its BIOS images come from bochsbios and vgabios.
  { command: 'bochs', debianPackage: 'bochs', purpose: 'bochs', versionArgs: ['--help'], versionFromPackage: true },
  { command: 'unshare', debianPackage: 'util-linux', purpose: 'bochs', versionArgs: ['--version'] },
  { command: 'ip', debianPackage: 'iproute2', purpose: 'bochs', versionArgs: ['-V'] },
  // The lean Bochs (guest/bochs-build.ts): tar unpacks Debian's source package, patch applies
  // its patches, autoreconf regenerates configure from the patched configure.ac (as Debian's
  // build does), and the link runs the system's libtool (Bochs's own macros are older).
  { command: 'g++', debianPackage: 'g++', purpose: 'bochs-build', versionArgs: ['--version'] },
  { command: 'make', debianPackage: 'make', purpose: 'bochs-build', versionArgs: ['--version'] },
  { command: 'patch', debianPackage: 'patch', purpose: 'bochs-build', versionArgs: ['--version'] },
  { command: 'autoreconf', debianPackage: 'autoconf', purpose: 'bochs-build', versionArgs: ['--version'] },
  { command: 'aclocal', debianPackage: 'automake', purpose: 'bochs-build', versionArgs: ['--version'] },
  { command: 'libtoolize', debianPackage: 'libtool', purpose: 'bochs-build', versionArgs: ['--version'] },
  { command: 'libtool', debianPackage: 'libtool-bin', purpose: 'bochs-build', versionArgs: ['--version'] },
  { command: 'mmdebstrap', debianPackage: 'mmdebstrap', purpose: 'image', versionArgs: ['--version'] },
  { command: 'dpkg-deb', debianPackage: 'dpkg', purpose: 'image', versionArgs: ['--version'] },
  { command: 'cpio', debianPackage: 'cpio', purpose: 'image', versionArgs: ['--version'] },
  { command: 'zstd', debianPackage: 'zstd', purpose: 'image', versionArgs: ['--version'] },
  { command: 'xz', debianPackage: 'xz-utils', purpose: 'image', versionArgs: ['--version'] },
  { command: 'gcc', debianPackage: 'gcc', purpose: 'image', versionArgs: ['--version'] },
  { command: 'ld', debianPackage: 'binutils', purpose: 'image', versionArgs: ['--version'] },
  // Full-distribution images: the stand-in image's partitioned disk, and the NoCloud seed.
  { command: 'sfdisk', debianPackage: 'fdisk', purpose: 'cloud', versionArgs: ['--version'] },
  { command: 'partx', debianPackage: 'util-linux', purpose: 'cloud', versionArgs: ['--version'] },
  { command: 'genisoimage', debianPackage: 'genisoimage', purpose: 'cloud', versionArgs: ['--version'] },
  { command: 'xmllint', debianPackage: 'libxml2-utils', purpose: 'reports', versionArgs: ['--version'] },
  // levelgate audit: bsdtar (libarchive) unpacks RPMs with gzip, xz or zstd payloads; debugfs
  // reads guest images; rpm reads an image's rpm database (and builds the tests' RPMs).
  { command: 'bsdtar', debianPackage: 'libarchive-tools', purpose: 'audit', versionArgs: ['--version'] },
  { command: 'debugfs', debianPackage: 'e2fsprogs', purpose: 'audit', versionArgs: ['-V'] },
  { command: 'rpm', debianPackage: 'rpm', purpose: 'audit', versionArgs: ['--version'] },
];

export interface ToolStatus {
  readonly tool: HostTool;
  /** First line of its version output, undefined when the command is missing. */
  readonly version: string | undefined;
}

const packageVersions = new Map<string, Promise<string | undefined>>();
/** The installed version of a Debian package (asked of dpkg once per process), undefined when it is not installed. */
export function debianPackageVersion(name: string): Promise<string | undefined> {
  let version = packageVersions.get(name);
  if (!version) {
    // Kept until dpkg's database changes: dpkg-query costs a process start on every run.
    const ask = () => execa('dpkg-query', ['-W', '-f=${Version}', name], { reject: false }).then((r) => (r.exitCode === 0 && r.stdout ? r.stdout : ''));
    version = memoByFile(path.join(cacheRoot(), 'file-answers.json'), `dpkg-query ${name}`, '/var/lib/dpkg/status', ask).then((v) => v || undefined);
    packageVersions.set(name, version);
  }
  return version;
}

export async function probeTool(tool: HostTool): Promise<ToolStatus> {
  try {
    const result = await execa(tool.command, [...tool.versionArgs], { reject: false, all: true, timeout: 10_000 });
    if (result.failed && result.exitCode === undefined) return { tool, version: undefined };
    if (tool.versionFromPackage) {
      const version = await debianPackageVersion(tool.debianPackage);
      return { tool, version: version ? `${tool.debianPackage} ${version} (Debian package)` : 'present' };
    }
    const line = (result.all ?? '').split('\n').find((l) => l.trim()) ?? '';
    return { tool, version: line.trim() || 'present' };
  } catch {
    return { tool, version: undefined };
  }
}

export async function probeTools(purposes: readonly HostTool['purpose'][]): Promise<ToolStatus[]> {
  return Promise.all(HOST_TOOLS.filter((t) => purposes.includes(t.purpose)).map(probeTool));
}

export function installHint(missing: readonly HostTool[]): string {
  const packages = [...new Set(missing.map((t) => t.debianPackage))].join(' ');
  return `apt-get install ${packages}   (or run ${levelgateCommand()} setup, which installs every host package)`;
}

/** Throws an InfrastructureError naming each missing command and its package. */
export async function requireTools(purposes: readonly HostTool['purpose'][]): Promise<void> {
  const missing = (await probeTools(purposes)).filter((s) => s.version === undefined).map((s) => s.tool);
  if (missing.length === 0) return;
  throw new InfrastructureError(`missing host programs: ${missing.map((t) => t.command).join(', ')}`, {
    hint: installHint(missing),
  });
}
