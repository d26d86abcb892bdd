// Benchmark: a distribution image (the stand-in cloud image, or --image PATH) beside the
// default guest, at one level under QEMU: cold boot to a ready, proven guest; snapshot
// restore to an answering guest; the command round trip; and catalog cells, one at a
// time. Usage: npm run bench:image [-- --image PATH --level v3 --cold N --runs N --cells N]
// Prints Markdown tables for BENCHMARKS.md.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dir } from 'tmp-promise';
import { BACKENDS } from '../harness/accel/backends.js';
import { ensureStandInImage } from '../harness/image/cloud/build.js';
import { planCells } from '../harness/plan/plan.js';
import type { LevelName } from '../harness/levels/table.js';
import { exactTarget } from '../harness/levels/targets.js';
import type { CellResult, CellTimingName } from '../harness/results/types.js';
import { runCell } from '../harness/run/cell.js';
import type { BackendGuests } from '../harness/run/session.js';
import { ensureCloudSnapshot } from '../harness/guest/cloud-snapshot.js';
import { ensureCloudSupport } from '../harness/image/cloud/support.js';
import { prepareRun } from '../harness/run/prepare.js';
import { stderrLog } from '../harness/util/log.js';
import { CATALOG } from '../scenarios/index.js';
import { KNOWN_ISSUES } from '../scenarios/known-issues.js';
import { median } from './median.js';

const { values } = parseArgs({
  options: {
    image: { type: 'string' },
    level: { type: 'string', default: 'v3' },
    cold: { type: 'string', default: '2' },
    runs: { type: 'string', default: '5' },
    execs: { type: 'string', default: '20' },
    cells: { type: 'string', default: '3' },
    scenario: { type: 'string', multiple: true },
  },
});
const level = values.level as LevelName;
const [coldRuns, runs, execs, cellRuns] = [values.cold, values.runs, values.execs, values.cells].map(Number) as [number, number, number, number];
const range = (xs: number[]) => (xs.length ? `${median(xs)} ms (${Math.min(...xs)}–${Math.max(...xs)})` : '—');
const load = () => os.loadavg()[0]!.toFixed(1);

const standIn = values.image ? undefined : await ensureStandInImage('qga', { log: stderrLog });
const imagePath = values.image ?? standIn!.disk;
const onImage = await prepareRun(CATALOG, 'tcg', { log: stderrLog, image: { request: { path: imagePath, ...(standIn ? { name: 'stand-in' } : {}) }, levels: [level] } });
const onDefault = await prepareRun(CATALOG, 'tcg', { log: stderrLog });
const guests = onImage.guests as BackendGuests;
const scratch = await dir({ prefix: 'levelgate-bench-image-', unsafeCleanup: true });
const loads: string[] = [load()];

// Cold boots of the image, through firmware and its bootloader, to a proven level.
const cold: number[] = [];
const coldProof: number[] = [];
for (let i = 0; i < coldRuns; i++) {
  await using guest = await guests.backend('tcg').boot({ image: onImage.artifacts, level, dataDisks: onImage.dataDisks, tmpDir: scratch.path });
  cold.push(guest.timings.bootToReadyMs);
  coldProof.push(guest.timings.proofMs);
  loads.push(load());
  stderrLog(`cold boot ${i + 1}/${coldRuns}: ready ${guest.timings.bootToReadyMs} ms + proof ${guest.timings.proofMs} ms (load ${load()})`);
}

// Restores and round trips: the image, then the default guest.
async function restores(kind: 'image' | 'default'): Promise<{ restore: number[]; rtt: number[] }> {
  const restore: number[] = [];
  const rtt: number[] = [];
  for (let i = 0; i < runs; i++) {
    const disk = path.join(scratch.path, `${kind}-${i}`);
    let guest;
    if (kind === 'image') {
      const snapshot = (await guests.snapshot(exactTarget(level), 'tcg'))!;
      guest = await snapshot.restore({ image: onImage.artifacts, level, disk: await snapshot.newDiskState(disk), dataDisks: onImage.dataDisks, tmpDir: scratch.path });
    } else {
      const snapshot = await BACKENDS.tcg.snapshots!.ensure({ image: onDefault.artifacts, target: exactTarget(level), dataDisks: onDefault.dataDisks, options: {} });
      guest = await snapshot.restore({ image: onDefault.artifacts, level, disk: await snapshot.newDiskState(disk), dataDisks: onDefault.dataDisks, tmpDir: scratch.path });
    }
    try {
      restore.push(guest.timings.bootToReadyMs);
      for (let j = 0; j < execs; j++) rtt.push((await guest.exec(['true'])).durationMs);
    } finally {
      await guest.dispose();
    }
    loads.push(load());
  }
  return { restore, rtt };
}
const image = await restores('image');
const reference = await restores('default');

// Catalog cells, restored from the snapshot, one at a time.
const scenarios = values.scenario ?? ['detection', 'upgrade-new-variant'];
const cells = planCells(CATALOG, { scenarios, targets: [level], drivers: ['dnf5', 'zypper'] });
const cellRows: string[] = [];
for (const cell of cells) {
  const timings: Record<'image' | 'default', CellResult[]> = { image: [], default: [] };
  for (let i = 0; i < cellRuns; i++) {
    for (const [kind, prepared] of [['image', onImage], ['default', onDefault]] as const) {
      timings[kind].push(await runCell(cell, { ...prepared, knownIssues: KNOWN_ISSUES, evidenceDir: path.join(scratch.path, 'evidence'), today: new Date().toISOString().slice(0, 10) }));
    }
    loads.push(load());
  }
  const s = (rs: CellResult[], k: CellTimingName) => `${(median(rs.map((r) => r.timings[k])) / 1000).toFixed(1)} s`;
  cellRows.push(`| ${cell.id} | ${timings.image[0]!.verdict} / ${timings.default[0]!.verdict} | ${s(timings.image, 'totalMs')} / ${s(timings.default, 'totalMs')} | ${s(timings.image, 'bootMs')} / ${s(timings.default, 'bootMs')} | ${s(timings.image, 'packageManagerMs')} / ${s(timings.default, 'packageManagerMs')} | ${s(timings.image, 'harnessMs')} / ${s(timings.default, 'harnessMs')} |`);
}
await scratch.cleanup();
// The image's snapshot as the store keeps it (its manifest's times); the run above made or found it.
const snapshot = await ensureCloudSnapshot({ image: onImage.distribution!.image, support: await ensureCloudSupport(), level, accel: 'tcg', dataDisks: onImage.dataDisks });
process.stdout.write(
  [
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load (1 min) during the run ${Math.min(...loads.map(Number))}–${Math.max(...loads.map(Number))}; image ${onImage.distribution!.image.name} ${onImage.distribution!.image.digest} (${onImage.distribution!.facts.os}, kernel ${onImage.distribution!.facts.kernel}, ${onImage.distribution!.facts.channel}); default guest image ${onDefault.image.digest}; level ${level}, QEMU TCG.`,
    '',
    '| guest | cold boot → ready, median (min–max) | + level proof | snapshot restore → answering, median (min–max) | round trip `true` |',
    '|---|---|---|---|---|',
    `| ${onImage.distribution!.image.name} | ${range(cold)} | ${coldRuns ? `${median(coldProof)} ms` : '—'} | ${range(image.restore)} | ${median(image.rtt).toFixed(1)} ms |`,
    `| default guest | (see above) | | ${range(reference.restore)} | ${median(reference.rtt).toFixed(1)} ms |`,
    '',
    `The image's snapshot boot (${snapshot.key}): ready after ${(snapshot.manifest.bootToReadyMs / 1000).toFixed(1)} s, then ${(snapshot.manifest.settleMs / 1000).toFixed(1)} s until cloud-init and systemd were done, saved in ${(snapshot.manifest.saveMs / 1000).toFixed(1)} s.`,
    '',
    `| cell (image / default guest, median of ${cellRuns}) | verdict | total | guest start (+ proof) | package manager | harness |`,
    '|---|---|---|---|---|---|',
    ...cellRows,
    '',
  ].join('\n'),
);
