import { Inject, Injectable } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { ExposureList, type ExposureGuard } from '../common/exposure-list';
import { MessageRouter } from '../delivery/message-router';
import { MESH_SHARED_STATE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import type { SharedState } from '../state/shared-state/shared-state';
import { tooLargeToReply } from '../transport/reply-encoder';
import type { ErrorPayload } from '../protocol';
import { readClientPosition, type RecoverOptions, type StreamPosition } from '../recovery/recover-options';
import { StreamDelivery } from '../recovery/stream-delivery';
import { decodeRoomEntry, positionedFrame } from '../recovery/room-entry';
import { RoomHooks } from './room-hooks';

/** What `exposeRoom` takes besides the pattern and the guard. */
export interface ExposeRoomOptions {
  /**
   * Keeps the room's last `size` broadcasts for `ttl` ms in a stream, so that a member that was
   * away gets what it missed when it joins again (see docs/guarantees.md). Off by default. It
   * applies to every room matching the pattern, whoever adds members (a guard that always says
   * no makes a room recoverable without letting clients join it themselves).
   */
  recover?: RecoverOptions;
}

/** What `<prefix>/join-room` answers. */
export type ClientJoinReply =
  | {
      success: true;
      present: RoomPresence[];
      epoch?: string;
      offset?: number;
      recovered?: boolean;
      missed?: number;
      /** A room whose presence is tracked: the member's presence identity and the secret to take it over after a reconnect (docs/presence.md). */
      presence?: { id: string; secret?: string; resumed?: boolean };
    }
  | { success: false };

/** The previous connection id a client sends with its position: its own excluded broadcasts are not replayed to it. */
function previousConnectionId(recover: unknown): string | undefined {
  const id = recover !== null && typeof recover === 'object' ? (recover as Record<string, unknown>).connectionId : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 100 ? id : undefined;
}

export function roomName(room: unknown): string {
  if (typeof room !== 'string' || room.length === 0) throw new TypeError('A room name must be a non-empty string');
  return room;
}

/**
 * A member of a room as `<prefix>/join-room` reports it: its id, and its metadata only as far as
 * the `visibleMetadata` / `allowClientMetadataReads` options let other clients see it.
 */
export interface RoomPresence {
  id: string;
  metadata?: unknown;
}

/** Rooms shared by every node, and which of them clients may join themselves. */
@Injectable()
export class RoomManager {
  readonly exposures = new ExposureList('Room');

  constructor(
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    private readonly router: MessageRouter,
    private readonly streams: StreamDelivery,
    private readonly hooks: RoomHooks,
  ) {}

  /**
   * Adds a connection (on any node) to a room; false if it is not connected. Throws
   * `MeshLimitError` when it is in `maxRoomsPerConnection` rooms already.
   */
  async join(room: string, connectionId: string): Promise<boolean> {
    return (await this.enter(room, connectionId)) !== null;
  }

  /** `join`, resolving with what the room hooks add to a client's join reply (null if not connected); `claim` is for them. */
  private async enter(room: string, connectionId: string, claim?: unknown): Promise<Record<string, unknown> | null> {
    const joining = this.router.joining(room, connectionId);
    // Known for a connection of this node only: whether this join is new (and so may be undone).
    const isNew = joining !== undefined && !this.router.hasLocalMember(room, connectionId);
    try {
      const owner = await this.store.addToRoom(room, connectionId, this.options.maxRoomsPerConnection);
      if (owner === null) return null;
      await this.router.membershipChanged('joined', room, connectionId, owner);
      try {
        return await this.hooks.joined(room, connectionId, owner, claim);
      } catch (error) {
        // What a hook keeps (presence) failed: a new join is undone, so the connection is not left a member of a join that failed.
        if (isNew) await this.leave(room, connectionId).catch(() => undefined);
        throw error;
      }
    } finally {
      joining?.done();
    }
  }

  /** Removes a connection from a room; false if it was not a member. */
  async leave(room: string, connectionId: string): Promise<boolean> {
    const owner = await this.store.removeFromRoom(room, connectionId);
    if (owner === null) return false;
    await this.router.membershipChanged('left', room, connectionId, owner);
    await this.hooks.left(room, connectionId);
    return true;
  }

  /** Empties a room (its metadata stays). */
  async clear(room: string): Promise<void> {
    await this.store.clearRoom(room);
    await this.router.roomCleared(room);
    await this.hooks.cleared(room);
  }

  expose(pattern: string | RegExp, guard?: ExposureGuard, options: ExposeRoomOptions = {}): void {
    this.exposures.add(pattern, guard);
    this.streams.rooms.add(pattern, options?.recover);
  }

  /** Sends an encoded event frame to every member of a room, through its stream when the room is recoverable. */
  async broadcast(room: string, frame: string, exclude: readonly string[]): Promise<void> {
    const window = this.streams.rooms.of(room);
    if (window) await this.router.toRecoverableRoom(room, frame, exclude, window);
    else await this.router.toRoom(room, frame, exclude);
  }

  /** A room a client may use: a name within `maxNameLength` that is exposed, and whose guard allows. */
  async mayJoin(connection: Connection, room: unknown): Promise<boolean> {
    return typeof room === 'string' && room.length > 0 && room.length <= this.options.maxNameLength && this.exposures.allows(connection, room);
  }

  /**
   * `<prefix>/join-room`: joins if the room is exposed and its guard allows, and lists who is
   * there. If the list cannot be read, or is too large to send (ETOOLARGE), a new join is undone,
   * so a client is never a member while told it failed.
   */
  async clientJoin(connection: Connection, room: unknown, recover?: unknown, presence?: unknown): Promise<ClientJoinReply | ErrorPayload> {
    if (!(await this.mayJoin(connection, room))) return { success: false };
    const name = room as string;
    // The connection is on this node, so the local room index knows whether it was in already.
    const wasMember = this.router.hasLocalMember(name, connection.id);
    const window = this.streams.rooms.of(name);
    let position: Omit<Extract<ClientJoinReply, { success: true }>, 'success' | 'present'> = {};
    // What the room hooks add (presence: the member's ticket); `presence` is the client's claim for them.
    let extra: Record<string, unknown> | null = null;
    const join = async () => (extra = await this.enter(name, connection.id, presence)) !== null;
    if (window) {
      const previous = previousConnectionId(recover);
      const frameOf = (entry: { message: string }, at: StreamPosition) => {
        const kept = decodeRoomEntry(entry.message);
        return kept && !(previous && kept.exclude.includes(previous)) ? positionedFrame(kept.frame, name, at) : undefined;
      };
      const outcome = await this.streams.enter(connection, { kind: 'room', name }, window, readClientPosition(recover), join, frameOf);
      if (!outcome) return { success: false };
      position = { epoch: outcome.position.epoch, offset: outcome.position.offset };
      if (outcome.recovered !== undefined) Object.assign(position, { recovered: outcome.recovered, missed: outcome.missed ?? 0 });
    } else if (!(await join())) return { success: false };
    const undo = () => (wasMember ? Promise.resolve(false) : this.leave(name, connection.id));
    let reply: Extract<ClientJoinReply, { success: true }>;
    try {
      reply = { success: true, present: await this.present(name), ...position, ...(extra ?? {}) };
    } catch (error) {
      await undo().catch(() => undefined);
      throw error;
    }
    const tooLarge = tooLargeToReply(reply, this.options.maxBufferedAmount);
    if (!tooLarge) return reply;
    await undo();
    return tooLarge;
  }

  /** Who is in a room, with what other clients may see of their metadata. */
  private async present(room: string): Promise<RoomPresence[]> {
    const members = await this.store.getRoomMembers(room);
    const { visibleMetadata, allowClientMetadataReads } = this.options;
    if (!visibleMetadata && !allowClientMetadataReads) return members.map((id) => ({ id }));
    return (await this.store.getAllMetadata(members)).map(([id, metadata]) => {
      if (!visibleMetadata) return { id, metadata };
      const visible = metadata === null ? undefined : visibleMetadata(metadata, id);
      return visible === undefined ? { id } : { id, metadata: visible };
    });
  }
}
