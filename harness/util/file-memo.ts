// Answers that depend on one file only (a program's `--version`, dpkg's database), kept
// in a small JSON store under the file's identity (path, size, mtime, inode): the
// process start is saved on every later run, and the answer is asked again as soon as
// the file changes. The store only saves time: an unreadable or unwritable one is ignored.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** The first executable `name` on PATH (a path is returned as is); undefined when there is none. */
export async function onPath(name: string, searchPath = process.env.PATH ?? ''): Promise<string | undefined> {
  if (name.includes('/')) return name;
  for (const dir of searchPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, name);
    const s = await stat(candidate).catch(() => undefined);
    if (s?.isFile() && (s.mode & 0o111) !== 0) return candidate;
  }
  return undefined;
}

async function identity(file: string): Promise<string | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s ? `${path.resolve(file)} ${s.size} ${Math.round(s.mtimeMs)} ${s.ino}` : undefined;
}

async function readStore(store: string): Promise<Record<string, string>> {
  try {
    const parsed = JSON.parse(await readFile(store, 'utf8')) as unknown;
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/**
 * `ask()`'s answer about `file` (named `what` in the store), from `store` when the file is
 * the one it was asked about, else asked and kept. A file that does not exist is asked every time.
 */
export async function memoByFile(store: string, what: string, file: string | undefined, ask: () => Promise<string>): Promise<string> {
  const id = file ? await identity(file) : undefined;
  if (!id) return ask();
  const key = `${what} ${id}`;
  const answers = await readStore(store);
  const known = answers[key];
  if (known !== undefined) return known;
  const answer = await ask();
  // Writes of one process go one at a time, each re-reading the store, so two answers asked at once are both kept.
  writes = writes.then(() => keep(store, what, key, answer));
  await writes;
  return answer;
}

let writes: Promise<void> = Promise.resolve();

/** Writes `answer` under `key`, keeping only the latest answer to `what` (one entry per question, whatever file it was asked about). */
async function keep(store: string, what: string, key: string, answer: string): Promise<void> {
  const kept = Object.fromEntries(Object.entries(await readStore(store)).filter(([k]) => !k.startsWith(`${what} `)));
  const temp = `${store}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await mkdir(path.dirname(store), { recursive: true });
    await writeFile(temp, `${JSON.stringify({ ...kept, [key]: answer }, null, 2)}\n`);
    await rename(temp, store);
  } catch {
    await rm(temp, { force: true }).catch(() => undefined);
  }
}
