import { MeshLimitError } from '../../errors';
import type { RedisKeyLayout } from '../redis/key-layout';
import { knownNodes } from '../redis/known-nodes';
import type { RedisConnections } from '../redis/redis-connections';
import { NODE_CLEANUP_BATCH, type MetadataUpdater, type NodeConnectionsRemoval, type SharedState } from './shared-state';

/** How many times a metadata update retries when another writer got there first. */
const METADATA_CAS_ATTEMPTS = 50;

function encodeMetadata(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

function decodeMetadata(text: string | null | false | undefined): unknown {
  return text ? JSON.parse(text) : null;
}

/**
 * Shared state in Redis, standalone or Cluster (key layout and slots: RedisKeyLayout). Per
 * connection `{c:<id>}` (owner and metadata) and `{c:<id>}:rooms`; per room `{r:<room>}`
 * (members) and `{r:<room>}:meta`; per node `{n:<node>}:connections`. Work that spans them runs
 * as per-slot steps: a join adds to the room first and to the connection second (undoing the
 * first when the second refuses); a leave and a removal change the connection first and the
 * rooms after. So whatever runs concurrently, a room never keeps a member that does not list it
 * (which nothing would clean up); the opposite (a connection listing a room it is not in) is
 * harmless: its removal takes it out of a room it is not in. Metadata is opaque JSON text.
 */
export class RedisSharedState implements SharedState {
  private readonly keys: RedisKeyLayout;

  constructor(private readonly redis: RedisConnections) {
    this.keys = redis.keys;
  }

  private get commands() {
    return this.redis.commands;
  }

  async ping(): Promise<void> {
    await this.commands.ping();
  }

  coalesceWrites(): void {
    this.redis.coalesceWrites();
  }

  /** One round trip: the connection's hash and its node's set are independent writes. */
  async addConnection(nodeId: string, connectionId: string, metadata?: unknown): Promise<void> {
    const meta = encodeMetadata(metadata);
    const fields: string[] = meta ? ['node', nodeId, 'meta', meta] : ['node', nodeId];
    await Promise.all([this.commands.hset(this.keys.connection(connectionId), ...fields), this.commands.sadd(this.keys.nodeConnections(nodeId), connectionId)]);
  }

  removeConnection(connectionId: string): Promise<string[]> {
    return this.removeOne(connectionId, '');
  }

  /** The connection's keys first (its rooms are read there), then its node's set and each room. */
  private async removeOne(connectionId: string, expectedNode: string): Promise<string[]> {
    const removed = await this.redis.scripts.run<string[]>('remove-connection', [this.keys.connection(connectionId), this.keys.connectionRooms(connectionId)], [expectedNode]);
    if (removed.length === 0) return [];
    const [node, ...rooms] = removed;
    const owner = node || expectedNode;
    const steps: Promise<unknown>[] = rooms.map((room) => this.commands.srem(this.keys.roomMembers(room), connectionId));
    if (owner && !expectedNode) steps.push(this.commands.srem(this.keys.nodeConnections(owner), connectionId));
    await Promise.all(steps);
    return rooms;
  }

  /**
   * One bounded step: up to `batch` of the node's connections are read (not popped, so a crash
   * mid-step loses nothing), removed each in its own slot, then taken off the node's set.
   */
  async removeNodeConnections(nodeId: string, batch = NODE_CLEANUP_BATCH): Promise<NodeConnectionsRemoval> {
    const setKey = this.keys.nodeConnections(nodeId);
    const ids = (await this.commands.srandmember(setKey, batch)) as string[];
    if (ids.length > 0) {
      await Promise.all(ids.map((id) => this.removeOne(id, nodeId)));
      await this.commands.srem(setKey, ...ids);
    }
    return { removed: ids, left: await this.commands.scard(setKey) };
  }

  async getConnectionNodes(connectionIds: string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    const nodes = await Promise.all(connectionIds.map((id) => this.commands.hget(this.keys.connection(id), 'node')));
    connectionIds.forEach((id, i) => {
      const node = nodes[i];
      if (node) owners.set(id, node);
    });
    return owners;
  }

  getNodeConnections(nodeId: string): Promise<string[]> {
    return this.commands.smembers(this.keys.nodeConnections(nodeId));
  }

  private knownNodes(): Promise<string[]> {
    return knownNodes(this.commands, this.keys);
  }

  async countConnections(): Promise<number> {
    const counts = await Promise.all((await this.knownNodes()).map((node) => this.commands.scard(this.keys.nodeConnections(node))));
    return counts.reduce((sum, count) => sum + count, 0);
  }

  async getMetadata(connectionId: string): Promise<unknown> {
    return decodeMetadata(await this.commands.hget(this.keys.connection(connectionId), 'meta'));
  }

  async updateMetadata(connectionId: string, update: MetadataUpdater): Promise<boolean> {
    const key = this.keys.connection(connectionId);
    for (let attempt = 0; attempt < METADATA_CAS_ATTEMPTS; attempt++) {
      const [node, currentText] = await this.commands.hmget(key, 'node', 'meta');
      if (!node) return false;
      const next = update(decodeMetadata(currentText));
      const result = await this.redis.scripts.run<number>('compare-and-set-metadata', [key], [currentText ?? '', encodeMetadata(next ?? null)]);
      if (result === 1) return true;
      if (result === -1) return false;
    }
    throw new Error(`Metadata of connection ${connectionId} kept changing; gave up after ${METADATA_CAS_ATTEMPTS} attempts`);
  }

  async getAllMetadata(connectionIds?: string[]): Promise<Array<[string, unknown]>> {
    let ids = connectionIds;
    if (!ids) ids = (await Promise.all((await this.knownNodes()).map((node) => this.getNodeConnections(node)))).flat();
    const rows = await Promise.all(ids.map((id) => this.commands.hmget(this.keys.connection(id), 'node', 'meta')));
    const pairs: Array<[string, unknown]> = [];
    ids.forEach((id, i) => {
      const [node, meta] = rows[i];
      if (node) pairs.push([id, decodeMetadata(meta)]);
    });
    return pairs;
  }

  async addToRoom(room: string, connectionId: string, maxRooms = 0): Promise<string | null> {
    const most = Number.isFinite(maxRooms) ? maxRooms : 0;
    const [added, result] = await this.redis.inOrder<[number, string | number]>(
      () => this.commands.sadd(this.keys.roomMembers(room), connectionId),
      () => this.redis.scripts.run<string | number>('add-to-room', [this.keys.connection(connectionId), this.keys.connectionRooms(connectionId)], [room, most]),
    );
    if (typeof result === 'string' && result !== '') return result;
    // Refused: undo the room's half unless the connection was a member already.
    if (added === 1) await this.commands.srem(this.keys.roomMembers(room), connectionId);
    if (result === 0) throw MeshLimitError.rooms(connectionId, maxRooms);
    return null;
  }

  async removeFromRoom(room: string, connectionId: string): Promise<string | null> {
    const [node, removed] = await this.redis.inOrder<[string, number]>(
      () => this.redis.scripts.run<string>('remove-from-room', [this.keys.connection(connectionId), this.keys.connectionRooms(connectionId)], [room]),
      () => this.commands.srem(this.keys.roomMembers(room), connectionId),
    );
    return removed === 1 && node ? node : null;
  }

  async isInRoom(room: string, connectionId: string): Promise<boolean> {
    return (await this.commands.sismember(this.keys.roomMembers(room), connectionId)) === 1;
  }

  getRoomMembers(room: string): Promise<string[]> {
    return this.commands.smembers(this.keys.roomMembers(room));
  }

  getRooms(connectionId: string): Promise<string[]> {
    return this.commands.smembers(this.keys.connectionRooms(connectionId));
  }

  async clearRoom(room: string): Promise<void> {
    const members = await this.redis.scripts.run<string[]>('clear-room', [this.keys.roomMembers(room)]);
    await Promise.all(members.map((id) => this.commands.srem(this.keys.connectionRooms(id), room)));
  }

  async getRoomMetadata(room: string): Promise<unknown> {
    return decodeMetadata(await this.commands.get(this.keys.roomMetadata(room)));
  }

  async setRoomMetadata(room: string, metadata: unknown): Promise<void> {
    if (metadata === null || metadata === undefined) await this.commands.del(this.keys.roomMetadata(room));
    else await this.commands.set(this.keys.roomMetadata(room), encodeMetadata(metadata));
  }
}
