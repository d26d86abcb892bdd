// Reporters are plug-ins with optional hooks. The multiplexer calls each in turn and
// isolates them: a reporter that throws is named on stderr and the others go on.
import type { CellRef, CellResult, RunResult, StepRecord } from '../results/types.js';

export interface RunStart {
  readonly cells: readonly CellRef[];
  readonly workers: number;
  readonly shard?: string;
}

export interface Reporter {
  readonly name: string;
  onBegin?(start: RunStart): void;
  onCellBegin?(cell: CellRef): void;
  onStepEnd?(cell: CellRef, step: StepRecord): void;
  onCellEnd?(result: CellResult): void;
  /** Writes the report; the path it wrote, if any, is returned for the run's closing lines. */
  onEnd?(run: RunResult): Promise<string | undefined> | string | undefined;
}

export class ReporterSet {
  readonly #reporters: readonly Reporter[];
  readonly #warn: (line: string) => void;

  constructor(reporters: readonly Reporter[], warn: (line: string) => void = (l) => process.stderr.write(`${l}\n`)) {
    this.#reporters = reporters;
    this.#warn = warn;
  }

  #each(hook: string, call: (r: Reporter) => void): void {
    for (const reporter of this.#reporters) {
      try {
        call(reporter);
      } catch (error) {
        this.#warn(`levelgate: reporter ${reporter.name} failed in ${hook}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
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

  /** Every reporter's onEnd, even when one fails; returns the paths written. */
  async onEnd(run: RunResult): Promise<{ reporter: string; path: string }[]> {
    const written: { reporter: string; path: string }[] = [];
    for (const reporter of this.#reporters) {
      try {
        const path = await reporter.onEnd?.(run);
        if (path) written.push({ reporter: reporter.name, path });
      } catch (error) {
        this.#warn(`levelgate: reporter ${reporter.name} failed in onEnd: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return written;
  }
}
