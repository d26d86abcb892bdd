// The config Bochs 2.7 writes into a saved state, made fit for one restore: every
// redolog journal and the log go to the restoring guest's own files (Bochs copies the
// saved redologs onto the journals: never onto the snapshot's), the boot info file to
// where the snapshot keeps it, and usb_uhci off the plugin list (loaded before
// `serial`, it takes the serial ports' timers on restore). Pure: unit tests pin it.
import { GuestError } from '../util/errors.js';
import { quoted } from './bochs-config.js';

export interface RestorePaths {
  /** Per IDE slot of the saved config ("ata0-master", ...): the journal this restore writes. */
  readonly journals: Readonly<Record<string, string>>;
  /** The boot info file (optramimage1): it must exist; its bytes are overwritten by the saved RAM. */
  readonly bootInfo: string;
  readonly logFile: string;
}

const DISK_LINE = /^(ata[0-3]-(?:master|slave)):\s*(.*)$/;
const JOURNAL = /\bjournal="[^"]*"/;

function unfit(message: string): GuestError {
  return new GuestError(`the snapshot's saved Bochs config ${message}`, { hint: 'the snapshot was made by another Bochs or levelgate: it is discarded and rebuilt' });
}

/** The saved config with this restore's paths; throws when it is not the config levelgate saved. */
export function restoredConfig(saved: string, paths: RestorePaths): string {
  const used = new Set<string>();
  let bootInfo = false;
  let log = false;
  const lines = saved.split('\n').map((line) => {
    if (line.startsWith('plugin_ctrl:')) {
      const entries = line.slice('plugin_ctrl:'.length).split(',').map((e) => e.trim()).filter(Boolean);
      return `plugin_ctrl: ${entries.filter((e) => e !== 'usb_uhci=true').join(', ')}`;
    }
    const disk = DISK_LINE.exec(line);
    if (disk && /\btype=disk\b/.test(disk[2]!)) {
      const slot = disk[1]!;
      const journal = paths.journals[slot];
      if (journal === undefined) throw unfit(`has a disk at ${slot}, which this restore has no journal for`);
      if (!JOURNAL.test(line)) throw unfit(`has no journal for the disk at ${slot}`);
      used.add(slot);
      return line.replace(JOURNAL, () => `journal=${quoted(journal, `${slot} journal`)}`);
    }
    if (line.startsWith('optramimage1:')) {
      bootInfo = true;
      if (!/\bfile="[^"]*"/.test(line)) throw unfit('has no boot info file (optramimage1)');
      return line.replace(/\bfile="[^"]*"/, () => `file=${quoted(paths.bootInfo, 'boot info')}`);
    }
    if (/^log:/.test(line)) {
      log = true;
      return `log: ${quoted(paths.logFile, 'log file')}`;
    }
    return line;
  });
  const missing = Object.keys(paths.journals).filter((slot) => !used.has(slot));
  if (missing.length > 0) throw unfit(`has no disk at ${missing.join(', ')}`);
  if (!bootInfo) throw unfit('has no optramimage1 line');
  if (!log) throw unfit('has no log line');
  return lines.join('\n');
}
