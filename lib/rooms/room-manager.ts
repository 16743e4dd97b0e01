import { Inject, Injectable } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { ExposureList, type ExposureGuard } from '../connection/exposure-list';
import { MessageRouter } from '../delivery/message-router';
import { MESH_STORE } from '../mesh.constants';
import type { MeshStore } from '../state/mesh-store.interface';

export function roomName(room: unknown): string {
  if (typeof room !== 'string' || room.length === 0) throw new TypeError('A room name must be a non-empty string');
  return room;
}

/** A member of a room as `<prefix>/join-room` reports it. */
export interface RoomPresence {
  id: string;
  metadata: unknown;
}

/** Rooms shared by every node, and which of them clients may join themselves. */
@Injectable()
export class RoomManager {
  readonly exposures = new ExposureList('Room');

  constructor(
    @Inject(MESH_STORE) private readonly store: MeshStore,
    private readonly router: MessageRouter,
  ) {}

  /** Adds a connection (on any node) to a room; false if it is not connected. */
  async join(room: string, connectionId: string): Promise<boolean> {
    const owner = await this.store.addToRoom(room, connectionId);
    if (owner === null) return false;
    await this.router.membershipChanged('j', room, connectionId, owner);
    return true;
  }

  /** Removes a connection from a room; false if it was not a member. */
  async leave(room: string, connectionId: string): Promise<boolean> {
    const owner = await this.store.removeFromRoom(room, connectionId);
    if (owner === null) return false;
    await this.router.membershipChanged('l', room, connectionId, owner);
    return true;
  }

  /** Empties a room (its metadata stays). */
  async clear(room: string): Promise<void> {
    await this.store.clearRoom(room);
    await this.router.roomCleared(room);
  }

  expose(pattern: string | RegExp, guard?: ExposureGuard): void {
    this.exposures.add(pattern, guard);
  }

  async mayJoin(connection: Connection, room: unknown): Promise<boolean> {
    return typeof room === 'string' && room.length > 0 && this.exposures.allows(connection, room);
  }

  /** `<prefix>/join-room`: joins if the room is exposed and its guard allows, and lists who is there. */
  async clientJoin(connection: Connection, room: unknown): Promise<{ success: true; present: RoomPresence[] } | { success: false }> {
    if (!(await this.mayJoin(connection, room))) return { success: false };
    const name = room as string;
    if (!(await this.join(name, connection.id))) return { success: false };
    const members = await this.store.getRoomMembers(name);
    const present = (await this.store.getAllMetadata(members)).map(([id, metadata]) => ({ id, metadata }));
    return { success: true, present };
  }
}
