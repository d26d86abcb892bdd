// One owner for a set of resources: released in reverse order of acquisition, every
// one of them even when some fail, and only once.

export type Cleanup = () => void | Promise<void>;

export class CleanupStack {
  readonly #entries: { name: string; fn: Cleanup }[] = [];
  #unwound = false;

  /** Registers a release; it runs before everything registered earlier. */
  defer(name: string, fn: Cleanup): void {
    if (this.#unwound) throw new Error(`cleanup stack already unwound; cannot defer "${name}"`);
    this.#entries.push({ name, fn });
  }

  get unwound(): boolean {
    return this.#unwound;
  }

  /** Runs every release in reverse order; returns the errors instead of stopping at the first. */
  async unwind(): Promise<Error[]> {
    if (this.#unwound) return [];
    this.#unwound = true;
    const errors: Error[] = [];
    for (const { name, fn } of this.#entries.reverse()) {
      try {
        await fn();
      } catch (error) {
        errors.push(new Error(`cleanup "${name}" failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
      }
    }
    this.#entries.length = 0;
    return errors;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.unwind();
  }
}
