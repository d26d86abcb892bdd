// A bisection in words: a line per program or library (the lowest level it runs at,
// what kills it one level below, the static level and whether they agree), and the
// transcript of every attempt for the JUnit and HTML reports.
import { levelLabel } from '../features.js';
import type { BisectResult, LevelAttempt } from './types.js';

const attemptText = (a: LevelAttempt): string => {
  if (a.outcome === 'ran') return `${a.target} ran`;
  if (a.outcome === 'not-run') return `${a.target} not run (${a.problem ?? 'unknown'})`;
  const p = a.programs.find((x) => x.signal !== null || x.timedOut || x.spawnFailed || x.exitCode !== 0);
  return `${a.target} ${a.outcome === 'sigill' ? 'SIGILL' : a.outcome === 'exit' ? `exit ${p?.exitCode ?? '?'}` : (p?.signal ?? 'failed')}`;
};

/** One line: "bisect PATH (program): runs at x86-64-v3; at x86-64-v2 killed by vzeroupper (AVX); static x86-64-v3: agree". */
export function bisectLine(r: BisectResult): string {
  const runs = r.runsAt ? `runs at ${levelLabel(r.runsAt)}` : 'runs at no level tried';
  const k = r.killedBelowBy;
  const killed = k ? `; at ${levelLabel(k.level)} ${k.how === 'sigill' ? `killed by ${k.mnemonic ?? 'an instruction'}${k.extension ? ` (${k.extension})` : ''}` : k.how === 'exit' ? 'exited non-zero' : 'failed'}` : '';
  const near = r.nearMisses?.length ? `; near misses: ${r.nearMisses.map(attemptText).join(', ')}` : '';
  return `bisect ${r.path} (${r.kind}): ${runs}${killed}${near}; ${r.reconciliation.agreement === 'agree' ? r.reconciliation.text : `${r.reconciliation.agreement}: ${r.reconciliation.text}`}`;
}

/** Every attempt, with its commands and SIGILLs. */
export function bisectTranscript(r: BisectResult): string[] {
  const lines = [bisectLine(r), `  tried: ${r.attempts.map(attemptText).join(', ')}`];
  for (const a of [...r.attempts, ...(r.nearMisses ?? [])]) {
    for (const p of a.programs) {
      const end = p.spawnFailed ? 'could not start' : p.timedOut ? 'timed out' : p.signal ? `killed by ${p.signal}` : `exit ${p.exitCode}`;
      lines.push(`  ${a.target}${a.accel ? ` (${a.accel})` : ''}: $ ${p.command}: ${end}${p.firstLine ? ` — ${p.firstLine}` : ''}`);
    }
    for (const t of a.traps) lines.push(`    SIGILL: ${t.line}`);
  }
  if (r.killedBelowBy) lines.push(`  killed at ${levelLabel(r.killedBelowBy.level)}: ${r.killedBelowBy.line}`);
  return lines;
}
