import type { MeshRateLimitOptions } from '../interfaces/mesh-module-options.interface';

/** What one frame did to a connection's budget. */
export type RateVerdict = 'ok' | 'over' | 'abusive';

/** One connection's budget: two numbers on its socket state (no object of its own per connection). */
export interface TokenBucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms since the epoch). */
  updatedAt: number;
}

/**
 * The inbound budget of every connection, as a token bucket: `limit` frames at once, refilled at
 * `limit` per `windowMs`. A frame over the limit still draws a token (the budget goes into debt),
 * so a client that keeps sending while refused digs deeper; once the debt reaches another `limit`
 * frames the connection is abusive and gets closed. A client that pauses recovers at the refill
 * rate. One limiter serves all connections; each keeps only its bucket.
 */
export class RateLimiter {
  private readonly limit: number;
  private readonly perMs: number;

  constructor(options: MeshRateLimitOptions) {
    this.limit = options.limit;
    this.perMs = options.limit / options.windowMs;
  }

  /** A full bucket. */
  fill(bucket: TokenBucket, now: number = Date.now()): void {
    bucket.tokens = this.limit;
    bucket.updatedAt = now;
  }

  take(bucket: TokenBucket, now: number = Date.now()): RateVerdict {
    const limit = this.limit;
    bucket.tokens = Math.min(limit, bucket.tokens + (now - bucket.updatedAt) * this.perMs) - 1;
    bucket.updatedAt = now;
    if (bucket.tokens >= 0) return 'ok';
    return bucket.tokens < -limit ? 'abusive' : 'over';
  }
}
