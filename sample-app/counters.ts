import { type OnModuleDestroy } from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import { MeshLimitError } from '../lib';
import type { SampleConfig } from './config';

/** A counter nobody increments for a day is dropped, so names clients make up do not pile up. */
const COUNTER_TTL_MS = 24 * 60 * 60 * 1000;
/** Without Redis: the most counters kept in the process. */
const MAX_MEMORY_COUNTERS = 10_000;

/**
 * The demo's shared counters (`increment`): in Redis when the sample has one, so every node counts
 * the same; in the process otherwise. Keys live under the mesh's key prefix, beside the sample's
 * session secret, so two samples on one Redis (`MESH_KEY_PREFIX`) keep their own.
 */
export class Counters implements OnModuleDestroy {
  private readonly memory = new Map<string, { value: number; expiresAt: number }>();

  private constructor(
    private readonly redis: Redis | Cluster | undefined,
    private readonly keyPrefix: string,
  ) {
    redis?.on('error', () => undefined); // commands fail on their own; the connection retries
  }

  static forConfig(config: SampleConfig): Counters {
    const redis = config.redisClusterNodes
      ? new Cluster(config.redisClusterNodes, { redisOptions: { maxRetriesPerRequest: 3 } })
      : config.redisUrl
        ? new Redis(config.redisUrl, { maxRetriesPerRequest: 3 })
        : undefined;
    return new Counters(redis, `${config.keyPrefix ?? 'mesh:'}sample:counter:`);
  }

  /** Adds one to counter `name` and returns its new value. */
  async increment(name: string): Promise<number> {
    if (this.redis) {
      const results = await this.redis.multi().incr(this.keyPrefix + name).pexpire(this.keyPrefix + name, COUNTER_TTL_MS).exec();
      const [error, value] = results?.[0] ?? [new Error('The increment was not run')];
      if (error) throw error;
      return value as number;
    }
    return this.incrementInMemory(name);
  }

  private incrementInMemory(name: string): number {
    const now = Date.now();
    let counter = this.memory.get(name);
    if (counter && counter.expiresAt <= now) counter = undefined;
    if (!counter) {
      if (this.memory.size >= MAX_MEMORY_COUNTERS) for (const [key, entry] of this.memory) if (entry.expiresAt <= now) this.memory.delete(key);
      if (this.memory.size >= MAX_MEMORY_COUNTERS) throw new MeshLimitError(`The demo keeps at most ${MAX_MEMORY_COUNTERS} counters`);
      counter = { value: 0, expiresAt: 0 };
      this.memory.set(name, counter);
    }
    counter.value += 1;
    counter.expiresAt = now + COUNTER_TTL_MS;
    return counter.value;
  }

  onModuleDestroy(): void {
    this.redis?.disconnect();
  }
}
