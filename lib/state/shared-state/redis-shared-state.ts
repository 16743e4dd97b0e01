import { MeshLimitError } from '../../errors';
import type { RedisConnections } from '../redis/redis-connections';
import { NODE_CLEANUP_BATCH, type MetadataUpdater, type NodeConnectionsRemoval, type SharedState } from './shared-state';

/** How many times a metadata update retries when another writer got there first. */
const METADATA_CAS_ATTEMPTS = 50;

function encodeMetadata(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

function decodeMetadata(text: string | null | false): unknown {
  return text ? JSON.parse(text) : null;
}

/**
 * Shared state in one Redis. Layout under the key prefix: `connections` (hash id → node),
 * `node:<n>:connections` (set), `connection-meta` (hash id → JSON), `room:<room>` (set of ids),
 * `connection:<id>:rooms` (set), `room-meta` (hash room → JSON). Multi-key changes are the Lua
 * scripts in ../redis/lua; metadata travels through them as opaque JSON text.
 */
export class RedisSharedState implements SharedState {
  constructor(private readonly redis: RedisConnections) {}

  private key(suffix: string): string {
    return this.redis.key(suffix);
  }

  private get connectionsKey(): string {
    return this.key('connections');
  }

  private get metaKey(): string {
    return this.key('connection-meta');
  }

  private roomsOfKey(connectionId: string): string {
    return this.key(`connection:${connectionId}:rooms`);
  }

  async ping(): Promise<void> {
    await this.redis.commands.ping();
  }

  async addConnection(nodeId: string, connectionId: string, metadata?: unknown): Promise<void> {
    await this.redis.scripts.run('add-connection', [this.connectionsKey, this.key(`node:${nodeId}:connections`), this.metaKey], [connectionId, nodeId, encodeMetadata(metadata)]);
  }

  removeConnection(connectionId: string): Promise<string[]> {
    return this.redis.scripts.run('remove-connection', [this.connectionsKey, this.metaKey, this.roomsOfKey(connectionId)], [connectionId, this.redis.keyPrefix]);
  }

  async removeNodeConnections(nodeId: string, batch = NODE_CLEANUP_BATCH): Promise<NodeConnectionsRemoval> {
    const [left, ...removed] = await this.redis.scripts.run<[number, ...string[]]>(
      'remove-node-connections',
      [this.key(`node:${nodeId}:connections`), this.connectionsKey, this.metaKey],
      [nodeId, batch, this.redis.keyPrefix],
    );
    return { removed, left: Number(left) };
  }

  async getConnectionNodes(connectionIds: string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    if (connectionIds.length === 0) return owners;
    const nodes = await this.redis.commands.hmget(this.connectionsKey, ...connectionIds);
    connectionIds.forEach((id, i) => {
      const node = nodes[i];
      if (node) owners.set(id, node);
    });
    return owners;
  }

  getNodeConnections(nodeId: string): Promise<string[]> {
    return this.redis.commands.smembers(this.key(`node:${nodeId}:connections`));
  }

  countConnections(): Promise<number> {
    return this.redis.commands.hlen(this.connectionsKey);
  }

  async getMetadata(connectionId: string): Promise<unknown> {
    return decodeMetadata(await this.redis.commands.hget(this.metaKey, connectionId));
  }

  async updateMetadata(connectionId: string, update: MetadataUpdater): Promise<boolean> {
    for (let attempt = 0; attempt < METADATA_CAS_ATTEMPTS; attempt++) {
      const currentText = (await this.redis.commands.hget(this.metaKey, connectionId)) ?? '';
      const next = update(decodeMetadata(currentText));
      const result = await this.redis.scripts.run<number>('compare-and-set-metadata', [this.connectionsKey, this.metaKey], [connectionId, currentText, encodeMetadata(next ?? null)]);
      if (result === 1) return true;
      if (result === -1) return false;
    }
    throw new Error(`Metadata of connection ${connectionId} kept changing; gave up after ${METADATA_CAS_ATTEMPTS} attempts`);
  }

  async getAllMetadata(connectionIds?: string[]): Promise<Array<[string, unknown]>> {
    if (connectionIds && connectionIds.length === 0) return [];
    const flat = await this.redis.scripts.run<string[]>('metadata-of', [this.connectionsKey, this.metaKey], connectionIds ?? []);
    const pairs: Array<[string, unknown]> = [];
    for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i], decodeMetadata(flat[i + 1])]);
    return pairs;
  }

  async addToRoom(room: string, connectionId: string, maxRooms = 0): Promise<string | null> {
    const most = Number.isFinite(maxRooms) ? maxRooms : 0;
    const result = await this.redis.scripts.run<string | number>('add-to-room', [this.connectionsKey, this.key(`room:${room}`), this.roomsOfKey(connectionId)], [room, connectionId, most]);
    if (result === 0) throw MeshLimitError.rooms(connectionId, maxRooms);
    return (result as string) || null;
  }

  async removeFromRoom(room: string, connectionId: string): Promise<string | null> {
    return (await this.redis.scripts.run<string>('remove-from-room', [this.roomsOfKey(connectionId), this.key(`room:${room}`), this.connectionsKey], [room, connectionId])) || null;
  }

  async isInRoom(room: string, connectionId: string): Promise<boolean> {
    return (await this.redis.commands.sismember(this.key(`room:${room}`), connectionId)) === 1;
  }

  getRoomMembers(room: string): Promise<string[]> {
    return this.redis.commands.smembers(this.key(`room:${room}`));
  }

  getRooms(connectionId: string): Promise<string[]> {
    return this.redis.commands.smembers(this.roomsOfKey(connectionId));
  }

  async clearRoom(room: string): Promise<void> {
    await this.redis.scripts.run('clear-room', [this.key(`room:${room}`)], [room, this.redis.keyPrefix]);
  }

  async getRoomMetadata(room: string): Promise<unknown> {
    return decodeMetadata(await this.redis.commands.hget(this.key('room-meta'), room));
  }

  async setRoomMetadata(room: string, metadata: unknown): Promise<void> {
    if (metadata === null || metadata === undefined) await this.redis.commands.hdel(this.key('room-meta'), room);
    else await this.redis.commands.hset(this.key('room-meta'), room, encodeMetadata(metadata));
  }
}
