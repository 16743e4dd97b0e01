import { TwoWayIndex } from '../common/two-way-index';

/**
 * Which of this node's own connections are in which room. Rooms live in the store (the source of
 * truth); this index lets a room broadcast be published once to the nodes with members (each
 * listens to the room's channel while it has some), each sending to its own members, instead of
 * looking the members up in Redis for every message. It is kept in
 * step by the membership changes this node makes and by the ones other nodes send it, and read
 * again from the store when those messages may have been lost (see `reconcile`).
 */
export class LocalRoomIndex {
  private readonly rooms = new TwoWayIndex<string, string>();
  /** Changes made while a reconcile reads the store: newer than what it reads, so they win. */
  private touched?: { pairs: Set<string>; rooms: Set<string>; connections: Set<string> };

  join(room: string, connectionId: string): void {
    this.touched?.pairs.add(pair(room, connectionId));
    this.rooms.add(room, connectionId);
  }

  leave(room: string, connectionId: string): void {
    this.touched?.pairs.add(pair(room, connectionId));
    this.rooms.delete(room, connectionId);
  }

  clear(room: string): void {
    this.touched?.rooms.add(room);
    this.rooms.deleteLeft(room);
  }

  /** Forgets a connection; returns the rooms it was in. */
  removeConnection(connectionId: string): string[] {
    this.touched?.connections.add(connectionId);
    return this.rooms.deleteRight(connectionId);
  }

  membersOf(room: string): ReadonlySet<string> | undefined {
    return this.rooms.rightsOf(room);
  }

  /**
   * Brings the index in line with the store: `read(ids)` returns each connection's rooms as the
   * store has them. A change made through this index while the read is in flight is newer than
   * the read and is kept. Returns how many memberships were added and removed.
   */
  async reconcile(connectionIds: string[], read: (ids: string[]) => Promise<string[][]>): Promise<{ added: number; removed: number; changed: Set<string> }> {
    const touched = (this.touched = { pairs: new Set<string>(), rooms: new Set<string>(), connections: new Set<string>() });
    let rooms: string[][];
    try {
      rooms = await read(connectionIds);
    } finally {
      this.touched = undefined;
    }
    let added = 0;
    let removed = 0;
    const changed = new Set<string>();
    const fresh = (room: string, id: string) => !touched.pairs.has(pair(room, id)) && !touched.rooms.has(room);
    connectionIds.forEach((id, i) => {
      if (touched.connections.has(id)) return;
      const stored = new Set(rooms[i]);
      const indexed = [...(this.rooms.leftsOf(id) ?? [])];
      for (const room of stored) {
        if (!this.rooms.has(room, id) && fresh(room, id)) {
          this.join(room, id);
          changed.add(room);
          added++;
        }
      }
      for (const room of indexed) {
        if (!stored.has(room) && fresh(room, id)) {
          this.leave(room, id);
          changed.add(room);
          removed++;
        }
      }
    });
    return { added, removed, changed };
  }
}

const pair = (room: string, connectionId: string) => `${connectionId}\n${room}`;
