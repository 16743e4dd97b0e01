import type { MeshStore, MeshStoreListener, MetadataUpdater } from './mesh-store.interface';
import { TwoWayIndex } from '../common/two-way-index';
import { MeshLimitError } from '../errors';

/**
 * State for a single process, used when no `redis` option is given (like Socket.IO's default
 * in-memory adapter). Same semantics as the Redis store: metadata is kept as JSON text, so reads return copies.
 */
export class MemoryMeshStore implements MeshStore {
  readonly nodeId = '1';
  private listener?: MeshStoreListener;
  private readonly connections = new Set<string>();
  private readonly metadata = new Map<string, string>();
  /** room ↔ member connection ids */
  private readonly rooms = new TwoWayIndex<string, string>();
  private readonly roomMetadata = new Map<string, string>();
  private readonly history = new Map<string, { messages: string[]; expiresAt: number }>();
  private historyWrites = 0;
  private readonly channels = new Set<string>();

  async start(listener: MeshStoreListener): Promise<void> {
    this.listener = listener;
  }

  async stop(): Promise<void> {
    this.listener = undefined;
  }

  async addConnection(connectionId: string, metadata?: unknown): Promise<void> {
    this.connections.add(connectionId);
    if (metadata !== undefined) this.metadata.set(connectionId, JSON.stringify(metadata));
  }

  async removeConnection(connectionId: string): Promise<string[]> {
    const rooms = this.rooms.deleteRight(connectionId);
    this.metadata.delete(connectionId);
    this.connections.delete(connectionId);
    return rooms;
  }

  async getConnectionNodes(connectionIds: string[]): Promise<Map<string, string>> {
    return new Map(connectionIds.filter((id) => this.connections.has(id)).map((id) => [id, this.nodeId]));
  }

  async getNodeConnections(nodeId: string): Promise<string[]> {
    return nodeId === this.nodeId ? [...this.connections] : [];
  }

  async countConnections(): Promise<number> {
    return this.connections.size;
  }

  async removeNode(nodeId: string): Promise<string[]> {
    const ids = await this.getNodeConnections(nodeId);
    for (const id of ids) await this.removeConnection(id);
    return ids;
  }

  async heartbeat(): Promise<boolean> {
    return true;
  }

  async lead(): Promise<boolean> {
    return true;
  }

  async resign(): Promise<void> {}

  async findDeadNodes(): Promise<string[]> {
    return [];
  }

  async pendingDeadNodes(): Promise<string[]> {
    return [];
  }

  async acknowledgeDeadNode(): Promise<void> {}

  async rejoin(): Promise<void> {}

  async ping(): Promise<void> {}

  readonly listening = true;

  async getMetadata(connectionId: string): Promise<unknown> {
    const text = this.metadata.get(connectionId);
    return text ? JSON.parse(text) : null;
  }

  async updateMetadata(connectionId: string, update: MetadataUpdater): Promise<boolean> {
    if (!this.connections.has(connectionId)) return false;
    const next = update(await this.getMetadata(connectionId));
    this.metadata.set(connectionId, JSON.stringify(next ?? null));
    return true;
  }

  async getAllMetadata(connectionIds?: string[]): Promise<Array<[string, unknown]>> {
    const ids = connectionIds ?? [...this.connections];
    const pairs: Array<[string, unknown]> = [];
    for (const id of ids) if (this.connections.has(id)) pairs.push([id, await this.getMetadata(id)]);
    return pairs;
  }

  async addToRoom(room: string, connectionId: string, maxRooms = Infinity): Promise<string | null> {
    if (!this.connections.has(connectionId)) return null;
    const rooms = this.rooms.leftsOf(connectionId);
    if (maxRooms > 0 && !rooms?.has(room) && (rooms?.size ?? 0) >= maxRooms) throw MeshLimitError.rooms(connectionId, maxRooms);
    this.rooms.add(room, connectionId);
    return this.nodeId;
  }

  async removeFromRoom(room: string, connectionId: string): Promise<string | null> {
    return this.rooms.delete(room, connectionId) ? this.nodeId : null;
  }

  async isInRoom(room: string, connectionId: string): Promise<boolean> {
    return this.rooms.has(room, connectionId);
  }

  async getRoomMembers(room: string): Promise<string[]> {
    return [...(this.rooms.rightsOf(room) ?? [])];
  }

  async getRooms(connectionId: string): Promise<string[]> {
    return [...(this.rooms.leftsOf(connectionId) ?? [])];
  }

  async clearRoom(room: string): Promise<void> {
    this.rooms.deleteLeft(room);
  }

  async getRoomMetadata(room: string): Promise<unknown> {
    const text = this.roomMetadata.get(room);
    return text ? JSON.parse(text) : null;
  }

  async setRoomMetadata(room: string, metadata: unknown): Promise<void> {
    if (metadata === null || metadata === undefined) this.roomMetadata.delete(room);
    else this.roomMetadata.set(room, JSON.stringify(metadata));
  }

  async publishToNode(nodeId: string, message: string): Promise<number> {
    if (nodeId !== this.nodeId) return 0;
    this.deliverLater(() => this.listener?.onNodeMessage(message));
    return 1;
  }

  async publishToAll(message: string): Promise<void> {
    this.deliverLater(() => this.listener?.onNodeMessage(message));
  }

  async publishChannel(channel: string, message: string, history = 0, historyTtlMs = 0): Promise<void> {
    if (history > 0) {
      const kept = this.liveHistory(channel);
      // As in Redis: a push keeps the expiry a list already has; a TTL given now replaces it.
      const expiresAt = historyTtlMs > 0 ? Date.now() + historyTtlMs : (kept?.expiresAt ?? Infinity);
      this.history.set(channel, { messages: [message, ...(kept?.messages ?? [])].slice(0, history), expiresAt });
      if (++this.historyWrites % 1000 === 0) this.dropExpiredHistory();
    }
    if (this.channels.has(channel)) this.deliverLater(() => this.listener?.onChannelMessage(channel, message));
  }

  async getChannelHistory(channel: string, limit: number): Promise<string[]> {
    return limit > 0 ? (this.liveHistory(channel)?.messages ?? []).slice(0, limit) : [];
  }

  private liveHistory(channel: string): { messages: string[]; expiresAt: number } | undefined {
    const entry = this.history.get(channel);
    if (entry && entry.expiresAt <= Date.now()) {
      this.history.delete(channel);
      return undefined;
    }
    return entry;
  }

  private dropExpiredHistory(): void {
    const now = Date.now();
    for (const [channel, entry] of this.history) if (entry.expiresAt <= now) this.history.delete(channel);
  }

  async subscribeChannel(channel: string): Promise<void> {
    this.channels.add(channel);
  }

  async unsubscribeChannel(channel: string): Promise<void> {
    this.channels.delete(channel);
  }

  /** Pub/sub is asynchronous in Redis; keep the same ordering guarantees here. */
  private deliverLater(fn: () => void): void {
    setImmediate(fn);
  }
}
