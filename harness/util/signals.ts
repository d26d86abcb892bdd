// Signal numbers to names ("SIGSEGV"), for exit statuses read from guests and shells.
import { constants } from 'node:os';

export function signalName(signal: number): NodeJS.Signals | null {
  if (signal === 0) return null;
  const entry = Object.entries(constants.signals).find(([, n]) => n === signal);
  return (entry?.[0] as NodeJS.Signals | undefined) ?? null;
}
