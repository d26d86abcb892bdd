import test from 'ava';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { memoByFile, onPath } from '../../harness/util/file-memo.js';

test('an answer about a file is asked once, and again when the file changes', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-test-file-memo-'));
  try {
    const store = path.join(dir, 'answers.json');
    const program = path.join(dir, 'qemu');
    await writeFile(program, 'version 7.2\n');
    let asked = 0;
    const ask = async () => `answer ${++asked}`;
    t.is(await memoByFile(store, 'qemu --version', program, ask), 'answer 1');
    t.is(await memoByFile(store, 'qemu --version', program, ask), 'answer 1');
    t.is(asked, 1);
    // An upgrade rewrites the file: asked again, and only the latest answer is kept.
    await writeFile(program, 'version 11.1 (longer)\n');
    t.is(await memoByFile(store, 'qemu --version', program, ask), 'answer 2');
    t.is(Object.keys(JSON.parse(await readFile(store, 'utf8'))).length, 1);
    // Two questions asked at once are both kept.
    await Promise.all([memoByFile(store, 'dpkg-query bochs', program, async () => 'bochs 2.7'), memoByFile(store, 'dpkg-query qemu', program, async () => 'qemu 7.2')]);
    t.is(Object.keys(JSON.parse(await readFile(store, 'utf8'))).length, 3);
    // No file: nothing to key on, asked every time; a store that is not JSON is ignored.
    t.is(await memoByFile(store, 'x', path.join(dir, 'missing'), ask), 'answer 3');
    t.is(await memoByFile(store, 'x', path.join(dir, 'missing'), ask), 'answer 4');
    await writeFile(store, 'not json');
    t.is(await memoByFile(store, 'qemu --version', program, ask), 'answer 5');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('onPath finds the first executable of that name on PATH', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'levelgate-test-file-memo-'));
  try {
    await writeFile(path.join(dir, 'tool'), '#!/bin/sh\n');
    t.is(await onPath('tool', dir), undefined);
    await chmod(path.join(dir, 'tool'), 0o755);
    t.is(await onPath('tool', `/nonexistent${path.delimiter}${dir}`), path.join(dir, 'tool'));
    t.is(await onPath('/usr/bin/env', ''), '/usr/bin/env');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
