// Type-checks a project's TypeScript configuration and scenario files with the
// TypeScript compiler before they run, so a scenario that does not type-check is
// reported with its file and line instead of failing in a guest.
import path from 'node:path';
import { typescript } from './typescript.js';

export interface TypeProblem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** `modules`: bare module names resolved to these declaration files (levelgate → this levelgate's API). */
export function typeCheck(files: readonly string[], modules: Readonly<Record<string, string>> = {}): TypeProblem[] {
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
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error && (!d.file || wanted.has(path.resolve(d.file.fileName))))
    .map((d) => {
      const position = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : { line: 0, character: 0 };
      return { file: d.file?.fileName ?? '(compiler)', line: position.line + 1, column: position.character + 1, message: ts.flattenDiagnosticMessageText(d.messageText, '\n') };
    });
}
