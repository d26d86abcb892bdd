// Which QEMU runs guests: the host's (Debian bookworm's 7.2) or one from a tools tree
// (harness/guest/tools-tree.ts). A record, so the guest, the snapshot key and the probe
// start the same program the same way.
import path from 'node:path';
import { execa } from 'execa';
import { cacheRoot } from '../host/cache.js';
import { memoByFile, onPath } from '../util/file-memo.js';

/** An emulator levelgate can start: the command (with any loader and options it needs first) and its environment. */
export interface Emulator {
  /** "bookworm" (the host's), "sid" (a tools tree's). */
  readonly name: string;
  /** Everything before the guest's own arguments: the program, or a loader, the program and data-path options. */
  readonly argv0: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** What `--version` says ("7.2.22", "11.1.3"). */
  readonly version: string;
}

export const QEMU_BINARY = 'qemu-system-x86_64';

/** The first word after "version" in QEMU's `--version` output. */
export function parseQemuVersion(output: string): string {
  return /version (\S+)/.exec(output)?.[1] ?? 'unknown';
}

/** Its identity in cache keys and facts: the whole prefix (a tools tree's path holds its key) and the version. */
export function emulatorIdentity(emulator: Emulator): string {
  return `${emulator.argv0.join(' ')} ${emulator.version}`;
}

/** The command and arguments that start `emulator` with the guest's `argv`. */
export function emulatorCommand(emulator: Pick<Emulator, 'argv0'>, argv: readonly string[]): { file: string; args: string[] } {
  const [file, ...prefix] = emulator.argv0;
  if (!file) throw new Error('an emulator needs a program');
  return { file, args: [...prefix, ...argv] };
}

const versions = new Map<string, Promise<string>>();
/**
 * `--version` of an emulator's command, asked once per process; a lone program's answer
 * is kept in the cache until its file changes (QEMU's start costs 0.05-0.2 s on every run).
 */
export function versionOf(argv0: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<string> {
  const id = argv0.join('\0');
  let v = versions.get(id);
  if (!v) {
    const { file, args } = emulatorCommand({ argv0 }, ['--version']);
    const ask = () => execa(file, args, { reject: false, env }).then((r) => parseQemuVersion(r.stdout));
    v = argv0.length === 1 && Object.keys(env).length === 0 ? onPath(file).then((program) => memoByFile(path.join(cacheRoot(), 'file-answers.json'), `${file} --version`, program, ask)) : ask();
    versions.set(id, v);
  }
  return v;
}

/**
 * Which QEMU runs guests, and why (doctor prints it). Sid's 11.1 from a tools tree
 * (harness/guest/tools-tree.ts) was measured against bookworm's 7.2 with
 * `npm run bench:emulators` and was not faster: boot, restore and package operations
 * 4-6 % slower, cells within the noise, the same proofs and canaries (BENCHMARKS.md).
 */
export const EMULATOR_CHOICE = {
  why: "sid's QEMU 11.1 from a tools tree was measured not faster (BENCHMARKS.md, \"A newer emulator\")",
} as const;

let host: Promise<Emulator> | undefined;
/** The host's QEMU (bookworm's qemu-system-x86). */
export function hostQemu(): Promise<Emulator> {
  host ??= versionOf([QEMU_BINARY]).then((version) => ({ name: 'bookworm', argv0: [QEMU_BINARY], env: {}, version }));
  return host;
}
