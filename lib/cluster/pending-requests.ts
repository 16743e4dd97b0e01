interface Entry<M> {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  meta: M;
}

/** Requests awaiting an answer, each with its deadline; settled once, by answer, failure or timeout. */
export class PendingRequests<M = undefined> {
  private readonly entries = new Map<string, Entry<M>>();

  /** Waits for `settle(id, ...)`; rejects with `onTimeout()` after `timeoutMs`. */
  wait<T>(id: string, timeoutMs: number, onTimeout: () => Error, meta: M): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, undefined, onTimeout()), timeoutMs);
      this.entries.set(id, { resolve: resolve as (value: unknown) => void, reject, timer, meta });
    });
  }

  meta(id: string): M | undefined {
    return this.entries.get(id)?.meta;
  }

  settle(id: string, value: unknown, error?: Error): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(value);
  }

  /** Fails every request whose metadata matches. */
  failWhere(match: (meta: M) => boolean, error: (meta: M) => Error): void {
    for (const [id, entry] of [...this.entries]) if (match(entry.meta)) this.settle(id, undefined, error(entry.meta));
  }
}
