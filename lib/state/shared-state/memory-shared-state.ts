import { TwoWayIndex } from '../../common/two-way-index';
import { MeshLimitError } from '../../errors';
import { NODE_CLEANUP_BATCH, type MetadataUpdater, type NodeConnectionsRemoval, type SharedState } from './shared-state';

const decode = (text: string | undefined): unknown => (text ? JSON.parse(text) : null);

/** The shared state of a single process (like Socket.IO's default in-memory adapter). */
export class MemorySharedState implements SharedState {
  /** connection id → node id */
  private readonly connections = new Map<string, string>();
  private readonly metadata = new Map<string, string>();
  /** room ↔ member connection ids */
  private readonly rooms = new TwoWayIndex<string, string>();
  private readonly roomMetadata = new Map<string, string>();

  async ping(): Promise<void> {}

  async addConnection(nodeId: string, connectionId: string, metadata?: unknown): Promise<void> {
    this.connections.set(connectionId, nodeId);
    if (metadata !== undefined) this.metadata.set(connectionId, JSON.stringify(metadata));
  }

  async removeConnection(connectionId: string): Promise<string[]> {
    const rooms = this.rooms.deleteRight(connectionId);
    this.metadata.delete(connectionId);
    this.connections.delete(connectionId);
    return rooms;
  }

  async removeNodeConnections(nodeId: string, batch = NODE_CLEANUP_BATCH): Promise<NodeConnectionsRemoval> {
    const ids = await this.getNodeConnections(nodeId);
    const removed = ids.slice(0, batch);
    for (const id of removed) await this.removeConnection(id);
    return { removed, left: ids.length - removed.length };
  }

  async getConnectionNodes(connectionIds: string[]): Promise<Map<string, string>> {
    const owners = new Map<string, string>();
    for (const id of connectionIds) {
      const node = this.connections.get(id);
      if (node !== undefined) owners.set(id, node);
    }
    return owners;
  }

  async getNodeConnections(nodeId: string): Promise<string[]> {
    return [...this.connections].filter(([, node]) => node === nodeId).map(([id]) => id);
  }

  async countConnections(): Promise<number> {
    return this.connections.size;
  }

  async getMetadata(connectionId: string): Promise<unknown> {
    return decode(this.metadata.get(connectionId));
  }

  async updateMetadata(connectionId: string, update: MetadataUpdater): Promise<boolean> {
    if (!this.connections.has(connectionId)) return false;
    const next = update(await this.getMetadata(connectionId));
    this.metadata.set(connectionId, JSON.stringify(next ?? null));
    return true;
  }

  async getAllMetadata(connectionIds?: string[]): Promise<Array<[string, unknown]>> {
    const ids = connectionIds ?? [...this.connections.keys()];
    return ids.filter((id) => this.connections.has(id)).map((id) => [id, decode(this.metadata.get(id))]);
  }

  async addToRoom(room: string, connectionId: string, maxRooms = Infinity): Promise<string | null> {
    const node = this.connections.get(connectionId);
    if (node === undefined) return null;
    const rooms = this.rooms.leftsOf(connectionId);
    if (maxRooms > 0 && !rooms?.has(room) && (rooms?.size ?? 0) >= maxRooms) throw MeshLimitError.rooms(connectionId, maxRooms);
    this.rooms.add(room, connectionId);
    return node;
  }

  async removeFromRoom(room: string, connectionId: string): Promise<string | null> {
    return this.rooms.delete(room, connectionId) ? (this.connections.get(connectionId) ?? null) : null;
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
    return decode(this.roomMetadata.get(room));
  }

  async setRoomMetadata(room: string, metadata: unknown): Promise<void> {
    if (metadata === null || metadata === undefined) this.roomMetadata.delete(room);
    else this.roomMetadata.set(room, JSON.stringify(metadata));
  }
}
