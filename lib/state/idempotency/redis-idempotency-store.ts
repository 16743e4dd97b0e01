import type { RedisConnections } from '../redis/redis-connections';
import type { IdempotencyClaim, IdempotencyRecord, IdempotencyStore } from './idempotency-store';

type Fields = [state: string | null, fingerprint: string | null, reply: string | null];

function recordOf([state, fingerprint, reply]: Fields): IdempotencyRecord | undefined {
  if (fingerprint === null) return undefined;
  if (state === 'done') return reply === null ? { state: 'done', fingerprint } : { state: 'done', fingerprint, reply };
  return { state: 'running', fingerprint };
}

/**
 * Idempotency records in Redis: one hash per key under its own `{ik:<digest>}` tag, so each
 * script touches one slot (and one shard on Redis Cluster). The hash expires by itself: after
 * the lease while its run is going, after the command's ttl once it is done.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(private readonly redis: RedisConnections) {}

  async claim(digest: string, token: string, fingerprint: string, leaseMs: number): Promise<IdempotencyClaim> {
    const answer = await this.redis.scripts.run<1 | Fields>('idempotency-claim', [this.key(digest)], [token, fingerprint, leaseMs]);
    if (answer === 1) return { claimed: true };
    // Between EXISTS and HMGET nothing runs (one script), so the record is whole.
    return { claimed: false, record: recordOf(answer)! };
  }

  async read(digest: string): Promise<IdempotencyRecord | undefined> {
    return recordOf((await this.redis.commands.hmget(this.key(digest), 'state', 'fp', 'reply')) as Fields);
  }

  async renew(digest: string, token: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.scripts.run<number>('idempotency-renew', [this.key(digest)], [token, leaseMs])) === 1;
  }

  async complete(digest: string, token: string, reply: string | undefined, ttlMs: number): Promise<boolean> {
    const args = reply === undefined ? [token, ttlMs, '0', ''] : [token, ttlMs, '1', reply];
    return (await this.redis.scripts.run<number>('idempotency-complete', [this.key(digest)], args)) === 1;
  }

  async release(digest: string, token: string): Promise<boolean> {
    return (await this.redis.scripts.run<number>('idempotency-release', [this.key(digest)], [token])) === 1;
  }

  private key(digest: string): string {
    return this.redis.keys.idempotencyRecord(digest);
  }
}
