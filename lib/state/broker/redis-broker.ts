import { Logger } from '@nestjs/common';
import type { RedisConnections } from '../redis/redis-connections';
import type { BrokerListener, MeshBroker } from './mesh-broker';

/**
 * Redis pub/sub (sharded on Redis Cluster, see RedisConnections). Internal channels, all under
 * the key prefix (see RedisKeyLayout): one per node, one per room (subscribed by the nodes with
 * members of it), one for all. User channels are raw Redis channel names, never under the
 * prefix, so the two cannot be confused. History: `<prefix>history:<channel>`, a list, newest first.
 */
export class RedisBroker implements MeshBroker {
  private readonly logger = new Logger('MeshRedis');
  private listener?: BrokerListener;

  constructor(private readonly redis: RedisConnections) {}

  get listening(): boolean {
    return this.redis.listening;
  }

  async start(listener: BrokerListener): Promise<void> {
    this.listener = listener;
    const keys = this.redis.keys;
    this.redis.onMessage((channel, message) => {
      if (!this.listener) return;
      if (keys.isInternal(channel)) this.listener.onNodeMessage(message);
      else this.listener.onChannelMessage(channel, message);
    });
    await this.redis.subscribe(keys.broadcastChannel);
    this.redis.onResubscribed(() => void this.resubscribed());
  }

  /**
   * After a reconnect ioredis subscribes again to every channel it had; a SUBSCRIBE queued behind
   * those resolves once they are in effect, so what the listener reads next cannot miss a message.
   */
  private async resubscribed(): Promise<void> {
    try {
      await this.redis.subscribe(this.redis.keys.broadcastChannel);
    } catch (error) {
      this.logger.warn(`Could not confirm the subscriptions after a reconnect: ${(error as Error).message}`);
      return;
    }
    this.logger.warn('Redis subscription connection restored; messages published while it was down were lost');
    this.listener?.onResubscribed?.();
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }

  listenAsNode(nodeId: string): Promise<void> {
    return this.redis.subscribe(this.redis.keys.nodeChannel(nodeId));
  }

  unlistenNode(nodeId: string): Promise<void> {
    return this.redis.unsubscribe(this.redis.keys.nodeChannel(nodeId));
  }

  publishToNode(nodeId: string, message: string): Promise<number> {
    return this.redis.publish(this.redis.keys.nodeChannel(nodeId), message);
  }

  async publishToAll(message: string): Promise<void> {
    await this.redis.publish(this.redis.keys.broadcastChannel, message);
  }

  async publishToRoom(room: string, message: string): Promise<void> {
    await this.redis.publish(this.redis.keys.roomChannel(room), message);
  }

  listenToRoom(room: string): Promise<void> {
    return this.redis.subscribe(this.redis.keys.roomChannel(room));
  }

  unlistenRoom(room: string): Promise<void> {
    return this.redis.unsubscribe(this.redis.keys.roomChannel(room));
  }

  /**
   * With history, the list is written first and the message published right after, in one
   * round trip (same connection, so in this order); on a cluster the two may be on different
   * shards, so they are not one transaction.
   */
  async publishChannel(channel: string, message: string, history = 0, historyTtlMs = 0): Promise<void> {
    if (history <= 0) {
      await this.redis.publish(channel, message);
      return;
    }
    const kept = this.redis.scripts.run('push-history', [this.redis.keys.history(channel)], [message, history, historyTtlMs]);
    await Promise.all([kept, this.redis.publish(channel, message)]);
  }

  getChannelHistory(channel: string, limit: number): Promise<string[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.redis.commands.lrange(this.redis.keys.history(channel), 0, limit - 1);
  }

  subscribeChannel(channel: string): Promise<void> {
    return this.redis.subscribe(channel);
  }

  unsubscribeChannel(channel: string): Promise<void> {
    return this.redis.unsubscribe(channel);
  }
}
