import { Logger } from '@nestjs/common';
import type { RedisConnections } from '../redis/redis-connections';
import type { BrokerListener, MeshBroker } from './mesh-broker';

/**
 * Redis pub/sub. Channels: `<prefix>node:<n>` per node and `<prefix>broadcast` for all; user
 * channels are raw Redis channel names (never under the prefix, so the two cannot be confused).
 * History: `<prefix>history:<channel>`, a list, newest first.
 */
export class RedisBroker implements MeshBroker {
  private readonly logger = new Logger('MeshRedis');
  private listener?: BrokerListener;

  constructor(private readonly redis: RedisConnections) {}

  private get broadcastChannel(): string {
    return this.redis.key('broadcast');
  }

  private nodeChannel(nodeId: string): string {
    return this.redis.key(`node:${nodeId}`);
  }

  get listening(): boolean {
    return this.redis.subscriber.status === 'ready';
  }

  async start(listener: BrokerListener): Promise<void> {
    this.listener = listener;
    const nodeChannels = this.redis.key('node:');
    this.redis.subscriber.on('message', (channel: string, message: string) => {
      if (!this.listener) return;
      if (channel === this.broadcastChannel || channel.startsWith(nodeChannels)) this.listener.onNodeMessage(message);
      else this.listener.onChannelMessage(channel, message);
    });
    await this.redis.subscriber.subscribe(this.broadcastChannel);
    this.redis.subscriber.on('ready', () => void this.resubscribed());
  }

  /**
   * After a reconnect ioredis subscribes again to every channel it had; a SUBSCRIBE queued behind
   * those resolves once they are in effect, so what the listener reads next cannot miss a message.
   */
  private async resubscribed(): Promise<void> {
    try {
      await this.redis.subscriber.subscribe(this.broadcastChannel);
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

  async listenAsNode(nodeId: string): Promise<void> {
    await this.redis.subscriber.subscribe(this.nodeChannel(nodeId));
  }

  async unlistenNode(nodeId: string): Promise<void> {
    await this.redis.subscriber.unsubscribe(this.nodeChannel(nodeId));
  }

  publishToNode(nodeId: string, message: string): Promise<number> {
    return this.redis.commands.publish(this.nodeChannel(nodeId), message);
  }

  async publishToAll(message: string): Promise<void> {
    await this.redis.commands.publish(this.broadcastChannel, message);
  }

  async publishChannel(channel: string, message: string, history = 0, historyTtlMs = 0): Promise<void> {
    if (history <= 0) {
      await this.redis.commands.publish(channel, message);
      return;
    }
    const key = this.redis.key(`history:${channel}`);
    const tx = this.redis.commands.multi().lpush(key, message).ltrim(key, 0, history - 1);
    if (historyTtlMs > 0) tx.pexpire(key, historyTtlMs);
    await tx.publish(channel, message).exec();
  }

  getChannelHistory(channel: string, limit: number): Promise<string[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.redis.commands.lrange(this.redis.key(`history:${channel}`), 0, limit - 1);
  }

  async subscribeChannel(channel: string): Promise<void> {
    await this.redis.subscriber.subscribe(channel);
  }

  async unsubscribeChannel(channel: string): Promise<void> {
    await this.redis.subscriber.unsubscribe(channel);
  }
}
