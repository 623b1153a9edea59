/** One part of an application that starts and stops (a store, a listener, a timer). */
export interface Part {
  name: string;
  start(): unknown;
  stop(): unknown;
}

/**
 * Starts parts in order and stops them in reverse; a part that fails to start stops everything that
 * already started (nothing is left running), and every started part gets to stop even when another
 * fails to (the first error is thrown after all have been tried). The hub and the edge agent use it.
 */
export class Lifecycle {
  private started: Part[] = [];

  constructor(private readonly onStopError: (part: string, error: Error) => void) {}

  async start(parts: readonly Part[]): Promise<void> {
    for (const part of parts) {
      try {
        await part.start();
      } catch (error) {
        await this.stop().catch(() => undefined);
        throw error;
      }
      this.started.push(part);
    }
  }

  /** The names of the parts running now, in start order. */
  get running(): string[] {
    return this.started.map((p) => p.name);
  }

  async stop(): Promise<void> {
    const started = this.started.reverse();
    this.started = [];
    let first: unknown;
    for (const part of started) {
      try {
        await part.stop();
      } catch (error) {
        this.onStopError(part.name, error as Error);
        first ??= error;
      }
    }
    if (first) throw first;
  }
}
