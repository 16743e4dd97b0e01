import type { IdempotencyClaim, IdempotencyRecord, IdempotencyStore } from './idempotency-store';

interface Entry {
  token: string;
  record: IdempotencyRecord;
  expiresAt: number;
}

/** Expired entries are swept at most this often, on the next write (no timer to stop). */
const SWEEP_INTERVAL_MS = 1000;

/** The idempotency store of one process (no `redis` option): the same rules as in Redis, in a Map. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly entries = new Map<string, Entry>();
  private lastSweep = 0;

  async claim(digest: string, token: string, fingerprint: string, leaseMs: number): Promise<IdempotencyClaim> {
    this.sweep();
    const current = this.live(digest);
    if (current) return { claimed: false, record: current.record };
    this.entries.set(digest, { token, record: { state: 'running', fingerprint }, expiresAt: Date.now() + leaseMs });
    return { claimed: true };
  }

  async read(digest: string): Promise<IdempotencyRecord | undefined> {
    return this.live(digest)?.record;
  }

  async renew(digest: string, token: string, leaseMs: number): Promise<boolean> {
    const entry = this.running(digest, token);
    if (entry) entry.expiresAt = Date.now() + leaseMs;
    return entry !== undefined;
  }

  async complete(digest: string, token: string, reply: string | undefined, ttlMs: number): Promise<boolean> {
    const entry = this.running(digest, token);
    if (!entry) return false;
    entry.record = reply === undefined ? { state: 'done', fingerprint: entry.record.fingerprint } : { state: 'done', fingerprint: entry.record.fingerprint, reply };
    entry.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async release(digest: string, token: string): Promise<boolean> {
    if (!this.running(digest, token)) return false;
    this.entries.delete(digest);
    return true;
  }

  private live(digest: string): Entry | undefined {
    const entry = this.entries.get(digest);
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(digest);
      return undefined;
    }
    return entry;
  }

  private running(digest: string, token: string): Entry | undefined {
    const entry = this.live(digest);
    return entry?.token === token && entry.record.state === 'running' ? entry : undefined;
  }

  /** Drops expired entries, so that keys nobody retries do not stay in memory past their time. */
  private sweep(): void {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    for (const [digest, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(digest);
  }
}
