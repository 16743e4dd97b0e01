import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { ExposureList, type ExposureGuard } from '../common/exposure-list';
import { SubscriptionSync } from '../common/subscription-sync';
import { TwoWayIndex } from '../common/two-way-index';
import { toWire } from '../transport/prepared-frame';
import { tooLargeToReply } from '../transport/reply-encoder';
import { MESH_BROKER, MESH_COMMAND_NAMES } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MeshForbiddenError } from '../errors';
import { encodeFrame, ErrorCode, ErrorName, type BuiltinCommandNames, type ErrorPayload } from '../protocol';
import type { MeshBroker } from '../state/broker/mesh-broker';
import { readClientPosition, type RecoverOptions, type StreamPosition } from '../recovery/recover-options';
import { StreamDelivery } from '../recovery/stream-delivery';

/** What `exposeChannel` takes besides the pattern and the guard. */
export interface ExposeChannelOptions {
  /**
   * Keeps the channel's last `size` messages for `ttl` ms in a stream, so that a client that was
   * away gets what it missed when it comes back (see docs/guarantees.md). Off by default.
   */
  recover?: RecoverOptions;
}

export interface ChannelSubscribeResult {
  success: boolean;
  history: string[];
  /** Recoverable channels: the stream's epoch and offset now, from which the client counts. */
  epoch?: string;
  offset?: number;
  /** When the client came back with a position: whether all it missed was replayed (before this reply), and how much. */
  recovered?: boolean;
  missed?: number;
}

const channelStream = (name: string) => ({ kind: 'channel' as const, name });

/**
 * Channel exposure, this node's subscribers, and the node's own Redis subscription per channel:
 * subscribed while at least one local connection listens, unsubscribed after the last leaves.
 */
@Injectable()
export class ChannelManager {
  private readonly logger = new Logger('MeshChannels');
  readonly exposures = new ExposureList('Channel');
  /** channel ↔ this node's subscribed connections */
  private readonly subscribers = new TwoWayIndex<string, Connection>();
  private readonly brokerSubscriptions: SubscriptionSync;
  private readonly messageCommand: string;

  constructor(
    @Inject(MESH_BROKER) private readonly broker: MeshBroker,
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_COMMAND_NAMES) names: BuiltinCommandNames,
    private readonly streams: StreamDelivery,
  ) {
    this.messageCommand = names.subscriptionMessage;
    // A recoverable channel is heard twice: its stream (what the server API publishes, with
    // offsets) and the raw channel (what other Redis clients publish, live only).
    const target = {
      subscribe: async (channel: string) => {
        await Promise.all([broker.subscribeChannel(channel), streams.windowOf(channelStream(channel)) ? streams.listen(channelStream(channel)) : undefined]);
      },
      unsubscribe: async (channel: string) => {
        await Promise.all([broker.unsubscribeChannel(channel), streams.windowOf(channelStream(channel)) ? streams.unlisten(channelStream(channel)) : undefined]);
      },
    };
    streams.onDeliver('channel', (channel, position, message) => this.deliverFromStream(channel, position, message));
    this.brokerSubscriptions = new SubscriptionSync(target, (channel) => this.subscribers.rightsOf(channel) !== undefined, this.logger, 'channel');
  }

  expose(pattern: string | RegExp, guard?: ExposureGuard, options: ExposeChannelOptions = {}): void {
    this.exposures.add(pattern, guard);
    this.streams.channels.add(pattern, options?.recover);
  }

  /** Internal channels live under the key prefix (never empty); no user channel may start with it. */
  isInternal(channel: string): boolean {
    return channel.startsWith(this.options.keyPrefix);
  }

  /** A name a client may use: a non-empty string within `maxNameLength`, outside the internal namespace. */
  private isValidName(channel: unknown): channel is string {
    return typeof channel === 'string' && channel.length > 0 && channel.length <= this.options.maxNameLength && !this.isInternal(channel);
  }

  async mayAccess(connection: Connection, channel: unknown): Promise<boolean> {
    return this.isValidName(channel) && this.exposures.allows(connection, channel);
  }

  /**
   * `<prefix>/subscribe-channel`. On a recoverable channel, `recover` is where the client was
   * (`{ epoch, offset }`): what it missed is sent before this reply, or the reply says
   * `recovered: false`. A guard that now refuses the channel refuses the replay too.
   */
  async subscribe(connection: Connection, channel: unknown, historyLimit: unknown, recover?: unknown): Promise<ChannelSubscribeResult | ErrorPayload> {
    if (!(await this.mayAccess(connection, channel))) return { success: false, history: [] };
    const name = channel as string;
    if (!connection.isOpen) return { success: false, history: [] };
    const mine = this.subscribers.leftsOf(connection);
    if (!mine?.has(name) && (mine?.size ?? 0) >= this.options.maxChannelsPerConnection) {
      const error = `This connection is subscribed to ${this.options.maxChannelsPerConnection} channels, the most allowed (maxChannelsPerConnection)`;
      return { error, code: ErrorCode.LIMIT, name: ErrorName.LIMIT };
    }
    const wasSubscribed = mine?.has(name) === true;
    const stream = channelStream(name);
    const window = this.streams.windowOf(stream);
    let reply: ChannelSubscribeResult;
    if (window) {
      const enter = async () => {
        this.subscribers.add(name, connection);
        await this.sync(name);
        return true;
      };
      const frameOf = (entry: { message: string }, position: StreamPosition) => this.streamFrame(name, position, entry.message);
      const outcome = (await this.streams.enter(connection, stream, window, readClientPosition(recover), enter, frameOf))!;
      const { epoch, offset } = outcome.position;
      reply = { success: true, history: await this.history(name, historyLimit), epoch, offset };
      if (outcome.recovered !== undefined) Object.assign(reply, { recovered: outcome.recovered, missed: outcome.missed ?? 0 });
    } else {
      this.subscribers.add(name, connection);
      await this.sync(name);
      reply = { success: true as const, history: await this.history(name, historyLimit) };
    }
    // A history too large to send: a new subscription is undone, so the client is not left subscribed while told it failed.
    const tooLarge = tooLargeToReply(reply, this.options.maxBufferedAmount);
    if (!tooLarge) return reply;
    if (!wasSubscribed) await this.unsubscribe(connection, name);
    return tooLarge;
  }

  /** The newest `limit` messages (at most `maxHistoryLimit` when a client asks), newest first. */
  async history(channel: string, limit: unknown, cap = this.options.maxHistoryLimit): Promise<string[]> {
    const n = typeof limit === 'number' && Number.isFinite(limit) ? Math.min(Math.floor(limit), cap) : 0;
    if (n <= 0) return [];
    // A recoverable channel's history is its stream: what subscribe returns and what recovery replays agree.
    const stream = channelStream(channel);
    return this.streams.windowOf(stream) ? this.streams.history(stream, n) : this.broker.getChannelHistory(channel, n);
  }

  async unsubscribe(connection: Connection, channel: unknown): Promise<boolean> {
    if (typeof channel !== 'string' || !this.subscribers.delete(channel, connection)) return false;
    await this.sync(channel);
    return true;
  }

  /** Drops every subscription of a closed connection. */
  async removeConnection(connection: Connection): Promise<void> {
    await Promise.all(this.subscribers.deleteRight(connection).map((channel) => this.sync(channel)));
  }

  /** Sends a message received from the broker to this node's subscribers, encoded once. */
  deliver(channel: string, message: string): void {
    const set = this.subscribers.rightsOf(channel);
    if (!set) return;
    const frame = toWire(encodeFrame({ command: this.messageCommand, payload: { channel, message } }), set.size);
    for (const connection of set) connection.sendRaw(frame);
  }

  /** `<prefix>/subscription-message` of a recoverable channel: the message with its epoch and offset. */
  private streamFrame(channel: string, { epoch, offset }: StreamPosition, message: string): string {
    return encodeFrame({ command: this.messageCommand, payload: { channel, message, epoch, offset } });
  }

  /** A recoverable channel's message, in order, to this node's subscribers (held for those recovering it). */
  private deliverFromStream(channel: string, position: StreamPosition, message: string): void {
    const set = this.subscribers.rightsOf(channel);
    if (!set) return;
    const frame = toWire(this.streamFrame(channel, position, message), set.size);
    this.streams.sendAll(set, channelStream(channel), position.offset, frame);
  }

  /**
   * Publishes on a user channel. Names under the key prefix are refused: the nodes' own channels
   * live there, and a message on them would be taken as a node message.
   */
  async publish(channel: string, message: unknown, history = 0, historyTtl = this.options.historyTtl): Promise<void> {
    if (typeof channel !== 'string' || channel.length === 0) throw new TypeError('publish: the channel must be a non-empty string');
    if (this.isInternal(channel)) throw new MeshForbiddenError(`publish: channel "${channel.slice(0, 100)}" is internal (it starts with the key prefix "${this.options.keyPrefix}")`);
    if (!Number.isInteger(history) || history < 0) throw new TypeError('publish: history must be a non-negative integer');
    if (!Number.isInteger(historyTtl) || historyTtl < 0) throw new TypeError('publish: historyTtl must be a non-negative integer (ms)');
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    if (typeof text !== 'string') throw new TypeError('publish: the message must be a string or a JSON value');
    // A recoverable channel keeps its own window; `history` and `historyTtl` do not apply to it.
    const window = this.streams.windowOf(channelStream(channel));
    if (window) await this.streams.append(channelStream(channel), text, window);
    else await this.broker.publishChannel(channel, text, history, historyTtl);
  }

  /** Brings the node's broker subscription in line with its local subscribers. */
  private sync(channel: string): Promise<void> {
    return this.brokerSubscriptions.sync(channel);
  }
}
