// Type-checks a project's TypeScript configuration and scenario files with the
// TypeScript compiler before they run, so a scenario that does not type-check is
// reported with its file and line instead of failing in a guest. The answer is kept in
// the cache with the identity of every file the compiler read, and reused while none changed.
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type ts from 'typescript';
import { typescript } from './typescript.js';

export interface TypeProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

function check(files: readonly string[], modules: Readonly<Record<string, string>>): { problems: TypeProblem[]; read: string[] } {
  const ts = typescript();
  const program = ts.createProgram([...files], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    skipLibCheck: true,
    allowImportingTsExtensions: true,
    resolveJsonModule: true,
    paths: Object.fromEntries(Object.entries(modules).map(([name, file]) => [name, [file]])),
  });
  const wanted = new Set(files.map((f) => path.resolve(f)));
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error && (!d.file || wanted.has(path.resolve(d.file.fileName))))
    .map((d) => {
      const position = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
      return { file: d.file?.fileName ?? '(compiler)', line: position.line + 1, column: position.character + 1, message: ts.flattenDiagnosticMessageText(d.messageText, '\n') };
    });
  return { problems, read: program.getSourceFiles().map((f: ts.SourceFile) => path.resolve(f.fileName)) };
}

/** Bump when the compiler options above change: kept answers are then checked again. */
const TYPECHECK_LAYOUT = 1;

/** A file as the compiler read it: path, size, mtime and inode (a changed file changes one of them). */
async function identity(file: string): Promise<string | undefined> {
  const s = await stat(file).catch(() => undefined);
  return s ? `${file} ${s.size} ${Math.round(s.mtimeMs)} ${s.ino}` : undefined;
}

interface KeptCheck {
  /** Every file the compiler read, with its identity then. */
  readonly read: readonly { readonly file: string; readonly id: string }[];
  readonly problems: TypeProblem[];
}

/**
 * The type problems of `files` (`modules`: bare module names resolved to these
 * declaration files, levelgate → this levelgate's API), with the answer kept in
 * `cacheDir` (1.2 s of compiler CPU per run of a project's gate, check or repro): under a key of the compiler's version, the root files
 * and `modules`, with the identity of every file the compiler read (the project's
 * modules, levelgate's declarations, TypeScript's libraries). Reused only while every
 * one of them is unchanged; else checked again and kept.
 */
export async function typeCheckCached(files: readonly string[], modules: Readonly<Record<string, string>>, cacheDir: string): Promise<TypeProblem[]> {
  const roots = files.map((f) => path.resolve(f));
  const key = createHash('sha256').update(JSON.stringify({ layout: TYPECHECK_LAYOUT, ts: typescript().version, roots, modules })).digest('hex').slice(0, 16);
  const file = path.join(cacheDir, 'typecheck', `${key}.json`);
  try {
    const kept = JSON.parse(await readFile(file, 'utf8')) as KeptCheck;
    const now = await Promise.all(kept.read.map((r) => identity(r.file)));
    if (now.every((id, i) => id !== undefined && id === kept.read[i]!.id)) return kept.problems;
  } catch {
    // No answer kept (or an unreadable one): checked below.
  }
  const { problems, read } = check(files, modules);
  const identities = await Promise.all(read.map(identity));
  // A file that vanished while it was read cannot vouch for the answer: nothing is kept.
  if (identities.every((id): id is string => id !== undefined)) {
    const temp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(temp, `${JSON.stringify({ read: read.map((f, i) => ({ file: f, id: identities[i]! })), problems } satisfies KeptCheck)}\n`);
      await rename(temp, file);
    } catch {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }
  return problems;
}
