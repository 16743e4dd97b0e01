import { Logger } from '@nestjs/common';
import type { RedisConnections } from '../redis/redis-connections';
import { POSITION_TTL_MS, type RecoverOptions, type StreamPosition } from '../../recovery/recover-options';
import { newEpoch } from '../../recovery/new-epoch';
import type { StreamRef } from '../../recovery/stream-ref';
import type { TopicRef } from './topic-ref';
import type { BrokerListener, MeshBroker, StreamEntry, StreamRead } from './mesh-broker';


/**
 * Redis pub/sub (sharded on Redis Cluster, see RedisConnections). Internal channels, all under
 * the key prefix (see RedisKeyLayout): one per node, one per room (subscribed by the nodes with
 * members of it), one for all. User channels are raw Redis channel names, never under the
 * prefix, so the two cannot be confused. History: `<prefix>history:<channel>`, a list, newest first.
 */
export class RedisBroker implements MeshBroker {
  private readonly logger = new Logger('MeshRedis');
  private listener?: BrokerListener;
  /**
   * The epoch a stream takes if it has none yet: made once and kept until a stream took it (random
   * bytes per publish would cost more than the publish's own JavaScript).
   */
  private epochCandidate = newEpoch();

  constructor(private readonly redis: RedisConnections) {}

  get listening(): boolean {
    return this.redis.listening;
  }

  async start(listener: BrokerListener): Promise<void> {
    this.listener = listener;
    const keys = this.redis.keys;
    this.redis.onMessage((channel, message) => {
      if (!this.listener) return;
      const internal = keys.isInternal(channel);
      const stream = internal ? keys.streamOfChannel(channel) : undefined;
      const topic = internal && !stream ? keys.topicOfChannel(channel) : undefined;
      if (stream) this.onStreamMessage(stream, message);
      else if (topic) this.listener.onTopicMessage?.(topic, message);
      else if (internal) this.listener.onNodeMessage(message);
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

  /** `<epoch> <offset>\n<message>`, as stream-append.lua publishes it; anything else is dropped and logged. */
  private onStreamMessage(stream: StreamRef, text: string): void {
    const space = text.indexOf(' ');
    const newline = text.indexOf('\n', space + 1);
    const offset = Number(text.slice(space + 1, newline));
    if (space < 1 || newline < 0 || !Number.isSafeInteger(offset) || offset < 1) {
      this.logger.warn(`Dropped a malformed message on the stream channel of ${stream.kind} "${stream.name.slice(0, 100)}"`);
      return;
    }
    this.listener?.onStreamMessage?.(stream, { epoch: text.slice(0, space), offset }, text.slice(newline + 1));
  }

  private streamKeys(stream: StreamRef): { log: string; position: string; channel: string } {
    const keys = this.redis.keys;
    return stream.kind === 'channel'
      ? { log: keys.channelLog(stream.name), position: keys.channelPosition(stream.name), channel: keys.channelStreamChannel(stream.name) }
      : { log: keys.roomLog(stream.name), position: keys.roomPosition(stream.name), channel: keys.roomStreamChannel(stream.name) };
  }

  async appendToStream(stream: StreamRef, message: string, { size, ttl }: RecoverOptions): Promise<StreamPosition> {
    const { log, position, channel } = this.streamKeys(stream);
    const publish = this.redis.clustered ? 'SPUBLISH' : 'PUBLISH';
    const candidate = this.epochCandidate;
    const [epoch, offset] = await this.redis.scripts.run<[string, number]>('stream-append', [log, position], [candidate, size, ttl, Math.max(ttl, POSITION_TTL_MS), publish, channel, message]);
    if (epoch === candidate) this.epochCandidate = newEpoch();
    return { epoch, offset: Number(offset) };
  }

  async readStream(stream: StreamRef, after: StreamPosition | undefined, size: number): Promise<StreamRead> {
    const { log, position } = this.streamKeys(stream);
    const candidate = this.epochCandidate;
    const args = [candidate, POSITION_TTL_MS, after?.epoch ?? '', after?.offset ?? 0, size];
    const reply = await this.redis.scripts.run<Array<string | number>>('stream-read', [log, position], args);
    const current = { epoch: String(reply[0]), offset: Number(reply[1]) };
    if (current.epoch === candidate) this.epochCandidate = newEpoch();
    if (Number(reply[2]) !== 1) return { position: current, recovered: false };
    const entries: StreamEntry[] = [];
    for (let i = 3; i < reply.length; i += 2) entries.push({ offset: Number(reply[i]), message: String(reply[i + 1]) });
    return { position: current, recovered: true, entries };
  }

  async streamHistory(stream: StreamRef, limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    const entries = await this.redis.commands.xrevrange(this.streamKeys(stream).log, '+', '-', 'COUNT', limit);
    return entries.map(([, fields]) => fields[1]);
  }

  listenStream(stream: StreamRef): Promise<void> {
    return this.redis.subscribe(this.streamKeys(stream).channel);
  }

  unlistenStream(stream: StreamRef): Promise<void> {
    return this.redis.unsubscribe(this.streamKeys(stream).channel);
  }

  async publishTopic(topic: TopicRef, message: string): Promise<void> {
    await this.redis.publish(this.redis.keys.topicChannel(topic), message);
  }

  listenTopic(topic: TopicRef): Promise<void> {
    return this.redis.subscribe(this.redis.keys.topicChannel(topic));
  }

  unlistenTopic(topic: TopicRef): Promise<void> {
    return this.redis.unsubscribe(this.redis.keys.topicChannel(topic));
  }
}
