// A pool of worker threads that audit files in parallel (decoding is CPU-bound: one
// worker per core). Tasks queue in order; a worker that dies fails its task, not the run.
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { FileAudit } from './types.js';

export interface WorkerRequest {
  readonly id: number;
  readonly file: string;
  readonly shownAs: string;
}

export type WorkerReply = { readonly id: number; readonly result: FileAudit } | { readonly id: number; readonly error: string };

interface Task extends WorkerRequest {
  readonly resolve: (result: FileAudit) => void;
}

const WORKER = new URL('./worker.js', import.meta.url);

export class AuditPool {
  readonly #queue: Task[] = [];
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Task>();
  #next = 0;
  #closed = false;

  constructor(readonly size: number) {
    // Each worker optimises the analyses anew, file after file of other shapes: TurboFan's
    // inlining was 35–40% of the audit's CPU (perf, the default image). Without it the audit
    // of that image took 13.0 s of user CPU instead of 16.3–16.9 s, the same report. V8's
    // flags are the process's: set before the first worker starts, read per compilation.
    setFlagsFromString('--no-turbo-inlining');
    for (let i = 0; i < size; i++) this.#spawn();
  }

  /** Audits one file; never rejects: a crash or a closed pool is the record's reason. */
  audit(file: string, shownAs: string): Promise<FileAudit> {
    return new Promise((resolve) => {
      if (this.#closed) {
        resolve({ path: shownAs, status: 'error', reason: 'not audited: the run was stopped', codeBytes: 0, milliseconds: 0 });
        return;
      }
      this.#queue.push({ id: this.#next++, file, shownAs, resolve });
      this.#pump();
    });
  }

  /** Audits files (largest first, so the workers finish together); the records come back in path order. */
  async auditAll(files: readonly { readonly file: string; readonly path: string; readonly size: number }[]): Promise<FileAudit[]> {
    const order = [...files].sort((a, b) => b.size - a.size);
    const results = await Promise.all(order.map((f) => this.audit(f.file, f.path)));
    return results.sort((a, b) => a.path.localeCompare(b.path));
  }

  /** Stops the workers; queued files are reported as not audited. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const task of this.#queue.splice(0)) task.resolve({ path: task.shownAs, status: 'error', reason: 'not audited: the run was stopped', codeBytes: 0, milliseconds: 0 });
    const workers = [...this.#idle, ...this.#busy.keys()];
    for (const task of this.#busy.values()) task.resolve({ path: task.shownAs, status: 'error', reason: 'not audited: the run was stopped', codeBytes: 0, milliseconds: 0 });
    this.#busy.clear();
    this.#idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  #spawn(): void {
    const worker = new Worker(WORKER);
    worker.on('message', (reply: WorkerReply) => {
      const task = this.#busy.get(worker);
      this.#busy.delete(worker);
      if (task) {
        task.resolve(
          'result' in reply ? reply.result : { path: task.shownAs, status: 'error', reason: `the audit failed inside levelgate (a bug; please report it): ${reply.error.split('\n')[0]}`, codeBytes: 0, milliseconds: 0 },
        );
      }
      this.#idle.push(worker);
      this.#pump();
    });
    const lost = (why: string) => {
      const task = this.#busy.get(worker);
      this.#busy.delete(worker);
      const at = this.#idle.indexOf(worker);
      if (at >= 0) this.#idle.splice(at, 1);
      if (this.#closed) return;
      task?.resolve({ path: task.shownAs, status: 'error', reason: `the audit worker died on this file (${why}); rerun with --jobs 1 to see more`, codeBytes: 0, milliseconds: 0 });
      this.#spawn();
      this.#pump();
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => {
      if (this.#busy.has(worker) || this.#idle.includes(worker)) lost(`exit ${code}`);
    });
    this.#idle.push(worker);
  }

  #pump(): void {
    while (this.#idle.length && this.#queue.length) {
      const worker = this.#idle.pop()!;
      const task = this.#queue.shift()!;
      this.#busy.set(worker, task);
      worker.postMessage({ id: task.id, file: task.file, shownAs: task.shownAs } satisfies WorkerRequest);
    }
  }
}
