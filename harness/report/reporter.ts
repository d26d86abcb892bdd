// Reporters are plug-ins with optional hooks. The multiplexer calls each in turn and
// isolates them: a reporter that throws is named on stderr and the others go on.
import type { CellRef, CellResult, RunResult, StepRecord } from '../results/types.js';

export interface RunStart {
  readonly cells: readonly CellRef[];
  readonly workers: number;
  readonly shard?: string;
}

/**
 * A reporter: a plug-in with optional hooks (Playwright's shape). Built-in ones are
 * terminal, json, junit and html; a project adds its own as a module whose default
 * export is a Reporter, or a function (or class) that takes the options given in the
 * configuration and returns one:
 *
 *   // my-reporter.ts
 *   import type { Reporter } from 'levelgate';
 *   export default (options: { channel?: string }): Reporter => ({
 *     onCellEnd: (cell) => console.log(`${cell.id}: ${cell.verdict}`),
 *   });
 *
 * Hooks run in turn for every reporter; one that throws (or whose promise rejects) is
 * named on stderr and the others go on. onEnd may return the path it wrote, printed
 * at the end of the run.
 */
export interface Reporter {
  /** For messages; a module reporter without one is named by its path. */
  readonly name?: string;
  onBegin?(start: RunStart): void | Promise<void>;
  onCellBegin?(cell: CellRef): void | Promise<void>;
  onStepEnd?(cell: CellRef, step: StepRecord): void | Promise<void>;
  onCellEnd?(result: CellResult): void | Promise<void>;
  /** Writes the report; the path it wrote, if any, is returned for the run's closing lines. */
  onEnd?(run: RunResult): Promise<string | undefined | void> | string | undefined | void;
}

/** The options a reporter is configured with (`['junit', { outputFile: 'out/junit.xml' }]`). */
export type ReporterOptions = Readonly<Record<string, unknown>>;

/** How a configuration or `--reporter` names a reporter: a built-in name or a module path, with options; or a Reporter object. */
export type ReporterSpec = string | readonly [string] | readonly [string, ReporterOptions] | Reporter;

export class ReporterSet {
  readonly #reporters: readonly Reporter[];
  readonly #warn: (line: string) => void;
  /** Hooks still running asynchronously; onEnd waits for them. */
  readonly #pending = new Set<Promise<void>>();

  constructor(reporters: readonly Reporter[], warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)) {
    this.#reporters = reporters;
    this.#warn = warn;
  }

  #label(reporter: Reporter, index: number): string {
    return reporter.name ?? `#${index + 1}`;
  }

  #failed(reporter: Reporter, index: number, hook: string, error: unknown): void {
    this.#warn(`levelgate: reporter ${this.#label(reporter, index)} failed in ${hook}: ${error instanceof Error ? error.message : String(error)}`);
  }

  #each(hook: string, call: (r: Reporter) => void | Promise<void> | undefined): void {
    this.#reporters.forEach((reporter, index) => {
      try {
        const result = call(reporter);
        if (result instanceof Promise) {
          const settled: Promise<void> = result.catch((error: unknown) => this.#failed(reporter, index, hook, error)).finally(() => this.#pending.delete(settled));
          this.#pending.add(settled);
        }
      } catch (error) {
        this.#failed(reporter, index, hook, error);
      }
    });
  }

  onBegin(start: RunStart): void {
    this.#each('onBegin', (r) => r.onBegin?.(start));
  }

  onCellBegin(cell: CellRef): void {
    this.#each('onCellBegin', (r) => r.onCellBegin?.(cell));
  }

  onStepEnd(cell: CellRef, step: StepRecord): void {
    this.#each('onStepEnd', (r) => r.onStepEnd?.(cell, step));
  }

  onCellEnd(result: CellResult): void {
    this.#each('onCellEnd', (r) => r.onCellEnd?.(result));
  }

  /** Every reporter's onEnd, even when one fails, after their earlier hooks settled; returns the paths written. */
  async onEnd(run: RunResult): Promise<{ reporter: string; path: string }[]> {
    await Promise.all(this.#pending);
    const written: { reporter: string; path: string }[] = [];
    for (const [index, reporter] of this.#reporters.entries()) {
      try {
        const path = await reporter.onEnd?.(run);
        if (path) written.push({ reporter: this.#label(reporter, index), path });
      } catch (error) {
        this.#failed(reporter, index, 'onEnd', error);
      }
    }
    return written;
  }
}
