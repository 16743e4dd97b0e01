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

export interface ChannelSubscribeResult {
  success: boolean;
  history: string[];
}

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
  ) {
    this.messageCommand = names.subscriptionMessage;
    const target = { subscribe: (channel: string) => broker.subscribeChannel(channel), unsubscribe: (channel: string) => broker.unsubscribeChannel(channel) };
    this.brokerSubscriptions = new SubscriptionSync(target, (channel) => this.subscribers.rightsOf(channel) !== undefined, this.logger, 'channel');
  }

  expose(pattern: string | RegExp, guard?: ExposureGuard): void {
    this.exposures.add(pattern, guard);
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

  async subscribe(connection: Connection, channel: unknown, historyLimit: unknown): Promise<ChannelSubscribeResult | ErrorPayload> {
    if (!(await this.mayAccess(connection, channel))) return { success: false, history: [] };
    const name = channel as string;
    if (!connection.isOpen) return { success: false, history: [] };
    const mine = this.subscribers.leftsOf(connection);
    if (!mine?.has(name) && (mine?.size ?? 0) >= this.options.maxChannelsPerConnection) {
      const error = `This connection is subscribed to ${this.options.maxChannelsPerConnection} channels, the most allowed (maxChannelsPerConnection)`;
      return { error, code: ErrorCode.LIMIT, name: ErrorName.LIMIT };
    }
    const wasSubscribed = mine?.has(name) === true;
    this.subscribers.add(name, connection);
    await this.sync(name);
    const reply = { success: true as const, history: await this.history(name, historyLimit) };
    // A history too large to send: a new subscription is undone, so the client is not left subscribed while told it failed.
    const tooLarge = tooLargeToReply(reply, this.options.maxBufferedAmount);
    if (!tooLarge) return reply;
    if (!wasSubscribed) await this.unsubscribe(connection, name);
    return tooLarge;
  }

  /** The newest `limit` messages (at most `maxHistoryLimit` when a client asks), newest first. */
  async history(channel: string, limit: unknown, cap = this.options.maxHistoryLimit): Promise<string[]> {
    const n = typeof limit === 'number' && Number.isFinite(limit) ? Math.min(Math.floor(limit), cap) : 0;
    return n > 0 ? this.broker.getChannelHistory(channel, n) : [];
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
    await this.broker.publishChannel(channel, text, history, historyTtl);
  }

  /** Brings the node's broker subscription in line with its local subscribers. */
  private sync(channel: string): Promise<void> {
    return this.brokerSubscriptions.sync(channel);
  }
}
