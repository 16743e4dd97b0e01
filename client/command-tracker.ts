import { MeshTimeoutError } from './errors';

/** setTimeout's largest delay; longer (or infinite) timeouts get no timer. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** A command from the call until its reply: first queued (no id), then in flight (sent, with an id). */
export interface TrackedCommand {
  readonly command: string;
  readonly payload: unknown;
  /** Sent with the command; a command with a key outlives a dropped connection (see `failInFlight`). */
  readonly idempotencyKey?: string;
  id?: number;
}

interface Entry extends TrackedCommand {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * The commands a client owes an answer to: those waiting to be sent (while offline or
 * reconnecting) and those in flight, each bounded by its own timeout from the call.
 */
export class CommandTracker {
  private queued: Entry[] = [];
  private readonly inFlight = new Map<number, Entry>();

  /**
   * Queues a command (at the front with `first`); the promise settles with its reply payload,
   * a timeout, or a `fail*` call.
   */
  add(command: string, payload: unknown, timeoutMs: number, first = false, idempotencyKey?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const entry: Entry = idempotencyKey === undefined ? { command, payload, resolve, reject } : { command, payload, idempotencyKey, resolve, reject };
      if (Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(() => this.expire(entry, timeoutMs), Math.min(Math.max(0, timeoutMs), MAX_TIMER_DELAY));
      }
      if (first) this.queued.unshift(entry);
      else this.queued.push(entry);
    });
  }

  isInFlight(id: number): boolean {
    return this.inFlight.has(id);
  }

  /** Takes every queued command; the caller sends each and reports it with `markSent`. */
  takeQueued(): TrackedCommand[] {
    const taken = this.queued;
    this.queued = [];
    return taken;
  }

  markSent(command: TrackedCommand, id: number): void {
    command.id = id;
    this.inFlight.set(id, command as Entry);
  }

  /** Settles the in-flight command with this id; false if there is none (late or unknown reply). */
  resolve(id: number, payload: unknown): boolean {
    const entry = this.inFlight.get(id);
    if (!entry) return false;
    this.inFlight.delete(id);
    this.settle(entry).resolve(payload);
    return true;
  }

  /**
   * Fails every command in flight; with `requeueKeyed`, those with an idempotency key go back to
   * the front of the queue instead (in the order they were sent), to be sent again with the same
   * key on the next connection. Their timers keep running.
   */
  failInFlight(error: (command: string) => Error, requeueKeyed = false): void {
    const entries = [...this.inFlight.values()];
    this.inFlight.clear();
    const requeued: Entry[] = [];
    for (const entry of entries) {
      if (requeueKeyed && entry.idempotencyKey !== undefined) {
        entry.id = undefined;
        requeued.push(entry);
      } else this.settle(entry).reject(error(entry.command));
    }
    if (requeued.length > 0) this.queued.unshift(...requeued);
  }

  failQueued(error: (command: string) => Error): void {
    for (const entry of this.takeQueued() as Entry[]) this.settle(entry).reject(error(entry.command));
  }

  private expire(entry: Entry, timeoutMs: number): void {
    if (entry.id !== undefined) this.inFlight.delete(entry.id);
    else this.queued = this.queued.filter((e) => e !== entry);
    entry.reject(new MeshTimeoutError(entry.command, timeoutMs));
  }

  private settle(entry: Entry): Entry {
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    return entry;
  }
}
