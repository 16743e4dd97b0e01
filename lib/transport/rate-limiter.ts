import type { MeshRateLimitOptions } from '../interfaces/mesh-module-options.interface';

/** What one frame did to a connection's budget. */
export type RateVerdict = 'ok' | 'over' | 'abusive';

/**
 * One connection's inbound budget, as a token bucket: `limit` frames at once, refilled at `limit`
 * per `windowMs`. A frame over the limit still draws a token (the budget goes into debt), so a
 * client that keeps sending while refused digs deeper; once the debt reaches another `limit`
 * frames the connection is abusive and gets closed. A client that pauses recovers at the refill rate.
 */
export class RateLimiter {
  private tokens: number;
  private updatedAt: number;
  private readonly perMs: number;

  constructor(private readonly options: MeshRateLimitOptions) {
    this.tokens = options.limit;
    this.updatedAt = Date.now();
    this.perMs = options.limit / options.windowMs;
  }

  take(now: number = Date.now()): RateVerdict {
    const { limit } = this.options;
    this.tokens = Math.min(limit, this.tokens + (now - this.updatedAt) * this.perMs);
    this.updatedAt = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return 'ok';
    return this.tokens < -limit ? 'abusive' : 'over';
  }
}
