/** A FIFO lock for one connection: DuckDB runs one statement at a time per connection. */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();

  /** Wait for the lock; call the returned function exactly once to release it. */
  async acquire(): Promise<() => void> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    return release;
  }

  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}
