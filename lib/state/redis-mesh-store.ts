import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { MeshConfigurationError, MeshLimitError } from '../errors';
import type { MeshStore, MeshStoreListener, MetadataUpdater } from './mesh-store.interface';
import * as scripts from './redis-scripts';

type ScriptName = keyof typeof SCRIPT_NAMES;
const SCRIPT_NAMES = {
  meshRemoveConnection: scripts.REMOVE_CONNECTION,
  meshRemoveNode: scripts.REMOVE_NODE,
  meshCasMetadata: scripts.COMPARE_AND_SET_METADATA,
  meshAddToRoom: scripts.ADD_TO_ROOM,
  meshRemoveFromRoom: scripts.REMOVE_FROM_ROOM,
  meshClearRoom: scripts.CLEAR_ROOM,
  meshMetadataOf: scripts.METADATA_OF,
  meshJoin: scripts.JOIN,
  meshList: scripts.LIST,
  meshHeartbeat: scripts.HEARTBEAT,
  meshLead: scripts.LEAD,
  meshResign: scripts.RESIGN,
  meshDeadNodes: scripts.DEAD_NODES,
} as const;

/** How many times a metadata update retries when another writer got there first. */
const METADATA_CAS_ATTEMPTS = 50;

export interface RedisMeshStoreOptions {
  /** A URL, ioredis options, or a client this store borrows (duplicated for subscriptions, never closed). */
  redis: string | RedisOptions | Redis;
  keyPrefix: string;
  /** How long a node's heartbeat stays valid, in ms (the first one is written when it joins). @default 10000 */
  nodeTtl?: number;
}

const DEFAULT_NODE_TTL = 10_000;

function encodeMetadata(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

function decodeMetadata(text: string | null | false): unknown {
  return text ? JSON.parse(text) : null;
}

function describe(redis: RedisMeshStoreOptions['redis']): string {
  if (typeof redis === 'string') return redis.replace(/\/\/[^@/]*@/, '//***@');
  if (redis instanceof Redis) return `${redis.options.host}:${redis.options.port}`;
  return `${redis.host ?? '127.0.0.1'}:${redis.port ?? 6379}`;
}

/**
 * State shared by every node through one Redis. Layout (prefix `p`, default `mesh:`):
 * `p connections` hash id -> node; `p node:<n>:connections` set; `p connection-meta` hash id -> JSON;
 * `p room:<room>` set; `p connection:<id>:rooms` set; `p room-meta` hash room -> JSON; `p history:<channel>` list, newest first;
 * `p node-seq` counter for node ids (never reused while Redis keeps its data); `p nodes` set of listed
 * nodes; `p node:<n>:instance` the token of the process holding id n; `p node:<n>:alive` heartbeat
 * (expires after the node TTL); `p leader` the leader's id (expires unless renewed).
 * Pub/sub: `p node:<n>` per node, `p broadcast` for all.
 */
export class RedisMeshStore implements MeshStore {
  private readonly logger = new Logger('MeshRedis');
  private readonly prefix: string;
  private readonly ownsClient: boolean;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private listener?: MeshStoreListener;
  private id = '';
  /** Which process holds `id` (ids restart if Redis loses its data). */
  private instance = '';

  constructor(private readonly options: RedisMeshStoreOptions) {
    this.prefix = options.keyPrefix;
    const lazy = { lazyConnect: true } as const;
    if (options.redis instanceof Redis) {
      this.ownsClient = false;
      this.redis = options.redis;
      this.subscriber = options.redis.duplicate(lazy);
    } else {
      this.ownsClient = true;
      this.redis = typeof options.redis === 'string' ? new Redis(options.redis, lazy) : new Redis({ ...options.redis, ...lazy });
      this.subscriber = this.redis.duplicate();
    }
    for (const [name, lua] of Object.entries(SCRIPT_NAMES)) this.redis.defineCommand(name, { numberOfKeys: 0, lua });
    for (const client of [this.redis, this.subscriber]) {
      client.on('error', (error: Error) => this.logger.warn(`Redis connection error: ${error.message}`));
    }
  }

  get nodeId(): string {
    return this.id;
  }

  private key(suffix: string): string {
    return this.prefix + suffix;
  }

  private get nodeChannelPrefix(): string {
    return this.key('node:');
  }

  private get broadcastChannel(): string {
    return this.key('broadcast');
  }

  private run<T>(name: ScriptName, ...args: Array<string | number>): Promise<T> {
    const fn = (this.redis as unknown as Record<string, (...a: Array<string | number>) => Promise<T>>)[name];
    return fn.call(this.redis, this.prefix, ...args);
  }

  private async connect(client: Redis): Promise<void> {
    if (client.status === 'ready') return;
    if (client.status === 'wait') {
      try {
        await client.connect();
      } catch (error) {
        throw new MeshConfigurationError(`Cannot reach Redis at ${describe(this.options.redis)}: ${(error as Error).message}`);
      }
      return;
    }
    await client.ping();
  }

  async start(listener: MeshStoreListener): Promise<void> {
    this.listener = listener;
    await this.connect(this.redis);
    await this.connect(this.subscriber);
    this.subscriber.on('message', (channel: string, message: string) => this.dispatch(channel, message));
    await this.subscriber.subscribe(this.broadcastChannel);
    await this.join();
    this.subscriber.on('ready', () => void this.resubscribed());
  }

  /**
   * After a reconnect ioredis subscribes again to every channel it had; a SUBSCRIBE queued behind
   * those resolves once they are in effect, so what the listener reads next cannot miss a message.
   */
  private async resubscribed(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.broadcastChannel);
    } catch (error) {
      this.logger.warn(`Could not confirm the subscriptions after a reconnect: ${(error as Error).message}`);
      return;
    }
    this.logger.warn('Redis subscription connection restored; messages published while it was down were lost');
    this.listener?.onResubscribed?.();
  }

  /** Takes a new node id (never reused while Redis keeps its data), lists it, and listens on its channel. */
  private async join(): Promise<void> {
    this.instance = randomUUID();
    const id = String(await this.run<number>('meshJoin', this.instance));
    await this.subscriber.subscribe(this.nodeChannelPrefix + id);
    await this.run<number>('meshList', id, this.options.nodeTtl ?? DEFAULT_NODE_TTL);
    this.id = id;
  }

  async rejoin(): Promise<void> {
    const old = this.id;
    await this.join();
    // The id counter restarts when Redis loses its data, so the new id may be the old one.
    if (old !== this.id) await this.subscriber.unsubscribe(this.nodeChannelPrefix + old);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  get listening(): boolean {
    return this.subscriber.status === 'ready';
  }

  async heartbeat(ttlMs: number): Promise<boolean> {
    return (await this.run<number>('meshHeartbeat', this.id, ttlMs, this.instance)) === 1;
  }

  async lead(ttlMs: number): Promise<boolean> {
    return (await this.run<number>('meshLead', this.id, ttlMs)) === 1;
  }

  async resign(): Promise<void> {
    await this.run<number>('meshResign', this.id);
  }

  findDeadNodes(): Promise<string[]> {
    return this.run<string[]>('meshDeadNodes');
  }

  private dispatch(channel: string, message: string): void {
    if (!this.listener) return;
    if (channel === this.broadcastChannel || channel.startsWith(this.nodeChannelPrefix)) {
      this.listener.onNodeMessage(message);
    } else {
      this.listener.onChannelMessage(channel, message);
    }
  }

  async stop(): Promise<void> {
    this.listener = undefined;
    this.subscriber.disconnect();
    if (this.ownsClient) {
      // QUIT waits for an answer; without a connection, drop it (queued commands are rejected).
      if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
      else this.redis.disconnect();
    }
  }

  async addConnection(connectionId: string, metadata?: unknown): Promise<void> {
    const tx = this.redis
      .multi()
      .hset(this.key('connections'), connectionId, this.id)
      .sadd(this.key(`node:${this.id}:connections`), connectionId);
    if (metadata !== undefined) tx.hset(this.key('connection-meta'), connectionId, encodeMetadata(metadata));
    await tx.exec();
  }

  removeConnection(connectionId: string): Promise<string[]> {
    return this.run<string[]>('meshRemoveConnection', connectionId);
  }

  async getConnectionNodes(connectionIds: string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    if (connectionIds.length === 0) return owners;
    const nodes = await this.redis.hmget(this.key('connections'), ...connectionIds);
    connectionIds.forEach((id, i) => {
      const node = nodes[i];
      if (node) owners.set(id, node);
    });
    return owners;
  }

  getNodeConnections(nodeId: string): Promise<string[]> {
    return this.redis.smembers(this.key(`node:${nodeId}:connections`));
  }

  countConnections(): Promise<number> {
    return this.redis.hlen(this.key('connections'));
  }

  removeNode(nodeId: string, options: { dead?: boolean } = {}): Promise<string[]> {
    return this.run<string[]>('meshRemoveNode', nodeId, options.dead ? '1' : '0');
  }

  pendingDeadNodes(): Promise<string[]> {
    return this.redis.smembers(this.key('dead-nodes'));
  }

  async acknowledgeDeadNode(nodeId: string): Promise<void> {
    await this.redis.srem(this.key('dead-nodes'), nodeId);
  }

  /** The command connection (for the client registry, which shares it). */
  get client(): Redis {
    return this.redis;
  }

  async getMetadata(connectionId: string): Promise<unknown> {
    return decodeMetadata(await this.redis.hget(this.key('connection-meta'), connectionId));
  }

  async updateMetadata(connectionId: string, update: MetadataUpdater): Promise<boolean> {
    for (let attempt = 0; attempt < METADATA_CAS_ATTEMPTS; attempt++) {
      const currentText = (await this.redis.hget(this.key('connection-meta'), connectionId)) ?? '';
      const next = update(decodeMetadata(currentText));
      const result = await this.run<number>('meshCasMetadata', connectionId, currentText, encodeMetadata(next ?? null));
      if (result === 1) return true;
      if (result === -1) return false;
    }
    throw new Error(`Metadata of connection ${connectionId} kept changing; gave up after ${METADATA_CAS_ATTEMPTS} attempts`);
  }

  async getAllMetadata(connectionIds?: string[]): Promise<Array<[string, unknown]>> {
    if (connectionIds && connectionIds.length === 0) return [];
    const flat = await this.run<string[]>('meshMetadataOf', ...(connectionIds ?? []));
    const pairs: Array<[string, unknown]> = [];
    for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], decodeMetadata(flat[i + 1])]);
    return pairs;
  }

  async addToRoom(room: string, connectionId: string, maxRooms = 0): Promise<string | null> {
    const result = await this.run<string | number>('meshAddToRoom', room, connectionId, Number.isFinite(maxRooms) ? maxRooms : 0);
    if (result === 0) throw MeshLimitError.rooms(connectionId, maxRooms);
    return (result as string) || null;
  }

  async removeFromRoom(room: string, connectionId: string): Promise<string | null> {
    return (await this.run<string>('meshRemoveFromRoom', room, connectionId)) || null;
  }

  async isInRoom(room: string, connectionId: string): Promise<boolean> {
    return (await this.redis.sismember(this.key(`room:${room}`), connectionId)) === 1;
  }

  getRoomMembers(room: string): Promise<string[]> {
    return this.redis.smembers(this.key(`room:${room}`));
  }

  getRooms(connectionId: string): Promise<string[]> {
    return this.redis.smembers(this.key(`connection:${connectionId}:rooms`));
  }

  async clearRoom(room: string): Promise<void> {
    await this.run<number>('meshClearRoom', room);
  }

  async getRoomMetadata(room: string): Promise<unknown> {
    return decodeMetadata(await this.redis.hget(this.key('room-meta'), room));
  }

  async setRoomMetadata(room: string, metadata: unknown): Promise<void> {
    if (metadata === null || metadata === undefined) await this.redis.hdel(this.key('room-meta'), room);
    else await this.redis.hset(this.key('room-meta'), room, encodeMetadata(metadata));
  }

  publishToNode(nodeId: string, message: string): Promise<number> {
    return this.redis.publish(this.nodeChannelPrefix + nodeId, message);
  }

  async publishToAll(message: string): Promise<void> {
    await this.redis.publish(this.broadcastChannel, message);
  }

  async publishChannel(channel: string, message: string, history = 0, historyTtlMs = 0): Promise<void> {
    if (history > 0) {
      const key = this.key(`history:${channel}`);
      const tx = this.redis.multi().lpush(key, message).ltrim(key, 0, history - 1);
      if (historyTtlMs > 0) tx.pexpire(key, historyTtlMs);
      await tx.publish(channel, message).exec();
    } else {
      await this.redis.publish(channel, message);
    }
  }

  getChannelHistory(channel: string, limit: number): Promise<string[]> {
    if (limit <= 0) return Promise.resolve([]);
    return this.redis.lrange(this.key(`history:${channel}`), 0, limit - 1);
  }

  async subscribeChannel(channel: string): Promise<void> {
    await this.subscriber.subscribe(channel);
  }

  async unsubscribeChannel(channel: string): Promise<void> {
    await this.subscriber.unsubscribe(channel);
  }
}
