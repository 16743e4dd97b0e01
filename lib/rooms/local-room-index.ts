/**
 * Which of this node's own connections are in which room. Rooms live in the store (the source of
 * truth); this index lets a room broadcast be published once to every node, each node sending to
 * its own members, instead of looking the members up in Redis for every message. It is kept in
 * step by the membership changes this node makes and by the ones other nodes send it.
 */
export class LocalRoomIndex {
  private readonly members = new Map<string, Set<string>>();
  private readonly roomsOf = new Map<string, Set<string>>();

  join(room: string, connectionId: string): void {
    let members = this.members.get(room);
    if (!members) this.members.set(room, (members = new Set()));
    members.add(connectionId);
    let rooms = this.roomsOf.get(connectionId);
    if (!rooms) this.roomsOf.set(connectionId, (rooms = new Set()));
    rooms.add(room);
  }

  leave(room: string, connectionId: string): void {
    const members = this.members.get(room);
    members?.delete(connectionId);
    if (members?.size === 0) this.members.delete(room);
    this.roomsOf.get(connectionId)?.delete(room);
  }

  clear(room: string): void {
    for (const id of this.members.get(room) ?? []) this.roomsOf.get(id)?.delete(room);
    this.members.delete(room);
  }

  removeConnection(connectionId: string): void {
    for (const room of this.roomsOf.get(connectionId) ?? []) {
      const members = this.members.get(room);
      members?.delete(connectionId);
      if (members?.size === 0) this.members.delete(room);
    }
    this.roomsOf.delete(connectionId);
  }

  membersOf(room: string): ReadonlySet<string> | undefined {
    return this.members.get(room);
  }
}
