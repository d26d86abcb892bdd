// Where in a project's files a scenario's steps and a list's entries are written, read
// from the files' syntax (the TypeScript parser, nothing run), so a problem found in
// loaded data can name its line: "scenarios/hello.ts:12".
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type ts from 'typescript';
import { typescript } from './typescript.js';

export interface SourceLines {
  /** The line of step `index` of the scenario `id` in `file`, when the file writes it literally. */
  step(file: string, id: string, index: number): number | undefined;
  /** The line of element `index` of the array `file` exports by default. */
  entry(file: string, index: number): number | undefined;
}

interface FileLines {
  readonly steps: Map<string, number[]>;
  readonly entries: number[];
}

const propertyOf = (object: ts.ObjectLiteralExpression, name: string): ts.Expression | undefined => {
  for (const p of object.properties) if (typescript().isPropertyAssignment(p) && p.name.getText() === name) return p.initializer;
  return undefined;
};

function parse(file: string): FileLines {
  const ts = typescript();
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const lineOf = (node: ts.Node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const steps = new Map<string, number[]>();
  let entries: number[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node)) {
      const id = propertyOf(node, 'id');
      const list = propertyOf(node, 'steps');
      if (id && ts.isStringLiteralLike(id) && list && ts.isArrayLiteralExpression(list)) steps.set(id.text, list.elements.map(lineOf));
    }
    if (ts.isExportAssignment(node) && ts.isArrayLiteralExpression(node.expression)) entries = node.expression.elements.map(lineOf);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { steps, entries };
}

/** Reads each file once, relative paths against `cwd`; a file that cannot be read or parsed names no line. */
export function sourceLines(cwd: string): SourceLines {
  const files = new Map<string, FileLines | undefined>();
  const of = (file: string) => {
    const full = path.resolve(cwd, file);
    if (!files.has(full)) {
      try {
        files.set(full, parse(full));
      } catch {
        files.set(full, undefined);
      }
    }
    return files.get(full);
  };
  return {
    step: (file, id, index) => of(file)?.steps.get(id)?.[index],
    entry: (file, index) => of(file)?.entries[index],
  };
}
