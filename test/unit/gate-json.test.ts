// gate.json written as a stream: the same text JSON.stringify gave, in pieces no
// bigger than a cell, through a staging file that a failed write leaves nowhere.
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { GATE_SCHEMA_VERSION, gateJsonChunks, readRunResult, writeGateJson } from '../../harness/report/json.js';
import { composeCells, composeRun } from '../fixtures/compose-results.js';
import { everyVerdict, runResult } from '../fixtures/results.js';

const whole = (run: object) => `${JSON.stringify({ schemaVersion: GATE_SCHEMA_VERSION, ...run }, null, 2)}\n`;

test('the streamed text is byte for byte what one JSON.stringify of the run gave (cells last, as the gate and merge build a run): no cell, every verdict, a compose', (t) => {
  for (const run of [runResult([]), runResult(everyVerdict()), composeRun(composeCells({ names: 500 }))]) {
    t.is([...gateJsonChunks(run)].join(''), whole(run));
  }
  // Fields after the cells: written before them, the same JSON.
  const late = runResult(everyVerdict(), { shard: '2/4', slowerBackends: [{ level: 'v4', backend: 'Bochs', reason: 'x\ny' }] });
  t.deepEqual(JSON.parse([...gateJsonChunks(late)].join('')), JSON.parse(whole(late)));
});

test('a piece is at most one cell: 6,000 cells are 6,003 pieces, none bigger than the biggest cell', (t) => {
  const run = composeRun(composeCells({ names: 1000 }));
  const chunks = [...gateJsonChunks(run)];
  t.is(chunks.length, run.cells.length + 3);
  const biggestCell = Math.max(...run.cells.map((c) => JSON.stringify(c, null, 2).length));
  t.true(Math.max(...chunks.map((c) => c.length)) < biggestCell * 1.3 + 16);
});

test('writeGateJson writes a file merge reads back; a write that fails leaves no partial file', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-gate-json-'));
  try {
    const run = composeRun(composeCells({ names: 200 }));
    const file = path.join(dir, 'out', 'gate.json');
    await writeGateJson(file, run);
    t.is(await readFile(file, 'utf8'), whole(run));
    const read = await readRunResult(file);
    t.deepEqual(read.cells, run.cells);
    t.deepEqual(read.counts, run.counts);
    // The target is a directory: the rename fails, the staging file is removed, the error surfaces.
    const blocked = path.join(dir, 'blocked');
    await mkdir(path.join(blocked, 'x'), { recursive: true });
    const error = await t.throwsAsync(writeGateJson(blocked, run));
    t.regex((error as NodeJS.ErrnoException).code ?? '', /^(EISDIR|ENOTEMPTY|EEXIST)$/);
    t.deepEqual((await readdir(dir)).sort(), ['blocked', 'out']);
    t.deepEqual(await readdir(path.join(dir, 'out')), ['gate.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
