// Emulators that die with the harness. Node's exit handlers stop a guest on a normal end,
// an error, Ctrl-C or SIGTERM, but nothing in a process runs on SIGKILL (a CI job's
// cancel, the OOM killer, a test runner's hard timeout): the emulator would go on with
// its sockets. Started through util-linux's setpriv, the emulator carries the kernel's
// parent-death signal (prctl PR_SET_PDEATHSIG, kept across the exec), so the kernel kills
// it when the process that started it ends, however it ends.
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

let setprivPath: string | null | undefined;

/** setpriv on PATH, looked up once; null where the host has none (the guest then only dies with a normal end). */
function setpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(path.delimiter)) {
    const file = path.join(dir || '.', 'setpriv');
    try {
      accessSync(file, constants.X_OK);
      setprivPath = file;
      break;
    } catch {
      // not in this directory
    }
  }
  return setprivPath;
}

/** `command argv` started so that the kernel sends it SIGKILL when its parent process ends. */
export function dyingWithParent(command: string, argv: readonly string[], found: string | null = setpriv()): { command: string; argv: string[] } {
  return found ? { command: found, argv: ['--pdeathsig', 'KILL', '--', command, ...argv] } : { command, argv: [...argv] };
}
