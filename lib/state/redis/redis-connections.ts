import { Logger } from '@nestjs/common';
import { Cluster, Redis } from 'ioredis';
import { MeshConfigurationError } from '../../errors';
import { RedisKeyLayout } from './key-layout';
import { LuaScripts } from './lua-scripts';
import { describeRedis, isClusterOption, type MeshRedisOption } from './redis-option';

/** What ioredis (6.0, pinned) keeps of its sharded subscribers; not in its typings, so read defensively. */
interface ShardedSubscriberGroup {
  shardedSubscribers?: Map<string, { subscriberStatus?: string }>;
  subscriberToSlotsIndex?: Map<string, number[]>;
  channels?: Map<number, string[]>;
}

/**
 * Whether every shard this node subscribes channels on has its connection up. ioredis connects
 * one per shard, lazily, ends it when it drops and makes a new one (idle, then starting) on its
 * next reset: only `connected` hears messages. Shards with no channel of ours do not count.
 */
function everyShardListening(cluster: Redis): boolean {
  const group = (cluster as unknown as { shardedSubscribers?: ShardedSubscriberGroup }).shardedSubscribers;
  const { shardedSubscribers, subscriberToSlotsIndex, channels } = group ?? {};
  if (!(shardedSubscribers instanceof Map) || !(subscriberToSlotsIndex instanceof Map) || !(channels instanceof Map)) return true;
  for (const [nodeKey, slots] of subscriberToSlotsIndex) {
    if (!slots.some((slot) => (channels.get(slot)?.length ?? 0) > 0)) continue;
    if (shardedSubscribers.get(nodeKey)?.subscriberStatus !== 'connected') return false;
  }
  return true;
}

/** @deprecated the name before Redis Cluster support; use `MeshRedisOption`. */
export type RedisOption = MeshRedisOption;

type MessageListener = (channel: string, message: string) => void;

/**
 * The two connections a node holds to Redis: one for commands (shared by the broker, the shared
 * state, the membership store and the client registry) and one for subscriptions (a connection in
 * subscriber mode can do nothing else). A client given in the options is borrowed: duplicated for
 * subscriptions and never closed.
 *
 * On Redis Cluster both are ioredis `Cluster`s and every channel is a sharded one (SPUBLISH /
 * SSUBSCRIBE): a message goes to the shard owning its channel's slot and no further, where
 * classic PUBLISH would be copied to every shard. Standalone Redis (and Sentinel) keeps classic
 * pub/sub, which any Redis version has.
 */
export class RedisConnections {
  private readonly logger = new Logger('MeshRedis');
  /** Typed as a single client: a `Cluster` has the same command methods. */
  readonly commands: Redis;
  readonly subscriber: Redis;
  readonly scripts: LuaScripts;
  readonly keys: RedisKeyLayout;
  /** Redis Cluster: keys of one script must share a slot, and pub/sub is sharded. */
  readonly clustered: boolean;
  private readonly owned: boolean;

  constructor(
    private readonly option: MeshRedisOption,
    /** Prefix of every key and internal channel. */
    readonly keyPrefix: string,
  ) {
    const lazy = { lazyConnect: true } as const;
    let commands: Redis | Cluster;
    let subscriber: Redis | Cluster;
    if (option instanceof Cluster) {
      this.owned = false;
      commands = option;
      subscriber = option.duplicate(undefined, { ...lazy, shardedSubscribers: true });
    } else if (option instanceof Redis) {
      this.owned = false;
      commands = option;
      subscriber = option.duplicate(lazy);
    } else if (isClusterOption(option)) {
      if (!Array.isArray(option.cluster) || option.cluster.length === 0) throw new MeshConfigurationError('MeshModule option "redis.cluster" must list at least one node');
      this.owned = true;
      commands = new Cluster(option.cluster, { ...option.options, ...lazy });
      subscriber = new Cluster(option.cluster, { ...option.options, ...lazy, shardedSubscribers: true });
    } else {
      this.owned = true;
      commands = typeof option === 'string' ? new Redis(option, lazy) : new Redis({ ...option, ...lazy });
      subscriber = (commands as Redis).duplicate();
    }
    this.clustered = commands instanceof Cluster;
    this.commands = commands as Redis;
    this.subscriber = subscriber as Redis;
    this.keys = new RedisKeyLayout(keyPrefix);
    this.scripts = new LuaScripts(this.commands);
    for (const client of [this.commands, this.subscriber]) {
      client.on('error', (error: Error) => this.logger.warn(`Redis connection error: ${error.message}`));
    }
  }

  key(suffix: string): string {
    return this.keyPrefix + suffix;
  }

  async connect(): Promise<void> {
    await this.connectOne(this.commands);
    await this.connectOne(this.subscriber);
  }

  private async connectOne(client: Redis): Promise<void> {
    if (client.status === 'ready') return;
    if (client.status === 'wait') {
      try {
        await client.connect();
      } catch (error) {
        throw new MeshConfigurationError(`Cannot reach Redis at ${describeRedis(this.option)}: ${(error as Error).message}`);
      }
      return;
    }
    await client.ping();
  }

  /**
   * Runs steps that touch different slots one after the other, in the order given, for what
   * their order guarantees (see RedisKeyLayout). On one Redis they are all sent at once: one
   * connection runs commands in the order it received them, so this is the same order in one
   * round trip. On a cluster the steps may be on different shards: each waits for the one before.
   */
  async inOrder<T extends unknown[]>(...steps: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> {
    if (!this.clustered) return (await Promise.all(steps.map((step) => step()))) as T;
    const results: unknown[] = [];
    for (const step of steps) results.push(await step());
    return results as T;
  }

  /**
   * False while messages to this node may be lost: the subscription connection is down, or on a
   * cluster any shard's (ioredis keeps one per shard beside the Cluster's own status, which stays
   * `ready` while one of them cannot reconnect).
   */
  get listening(): boolean {
    if (this.subscriber.status !== 'ready') return false;
    return this.clustered ? everyShardListening(this.subscriber) : true;
  }

  private corked = false;

  /**
   * Holds this tick's commands (and those its promise callbacks send) in the command socket and
   * sends them as one write: a connect's writes to the connection's keys and to the client
   * registry are issued a few microtasks apart, and each write is a system call of its own.
   * Standalone only (a cluster has one socket per shard). A no-op while already holding.
   */
  coalesceWrites(): void {
    if (this.corked || this.clustered) return;
    const stream = (this.commands as unknown as { stream?: { cork?: () => void; uncork?: () => void; writable?: boolean } }).stream;
    if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function' || !stream.writable) return;
    this.corked = true;
    stream.cork();
    setImmediate(() => {
      this.corked = false;
      stream.uncork!();
    });
  }

  /** Publishes on a channel: sharded on a cluster. Resolves with how many subscribers (of that shard) got it. */
  publish(channel: string, message: string): Promise<number> {
    return (this.clustered ? this.commands.spublish(channel, message) : this.commands.publish(channel, message)) as Promise<number>;
  }

  /** Resolves once the subscription is in effect. */
  async subscribe(channel: string): Promise<void> {
    if (this.clustered) await this.subscriber.ssubscribe(channel);
    else await this.subscriber.subscribe(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    if (this.clustered) await this.subscriber.sunsubscribe(channel);
    else await this.subscriber.unsubscribe(channel);
  }

  /** Every message on the channels subscribed here. */
  onMessage(listener: MessageListener): void {
    this.subscriber.on(this.clustered ? 'smessage' : 'message', listener);
  }

  /**
   * Runs `listener` when the subscription connection came back after a drop (messages published
   * meanwhile were lost). ioredis subscribes again by itself: to every channel after a reconnect,
   * and per shard after a failover or a slot move on a cluster. Register after `connect`.
   */
  onResubscribed(listener: () => void): void {
    if (this.clustered) {
      let lost = false;
      this.subscriber.on('-subscriber', () => (lost = true));
      this.subscriber.on('subscribersReady', () => {
        // ioredis says ready after each reset of its shard connections, even with a shard that
        // failed to connect: wait for the reset that brings every one back.
        if (!lost || !this.listening) return;
        lost = false;
        listener();
      });
    } else {
      this.subscriber.on('ready', listener);
    }
  }

  async stop(): Promise<void> {
    this.subscriber.disconnect();
    if (!this.owned) return;
    // QUIT waits for an answer; without a connection, drop it (queued commands are rejected).
    if (this.commands.status === 'ready') await this.commands.quit().catch(() => this.commands.disconnect());
    else this.commands.disconnect();
  }
}
