import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { LocalConnections } from '../connection/local-connections';
import { toWire } from '../transport/prepared-frame';
import { MESH_BROKER, MESH_MEMBERSHIP_STORE, MESH_SHARED_STATE } from '../mesh.constants';
import type { SharedState } from '../state/shared-state/shared-state';
import type { MeshBroker } from '../state/broker/mesh-broker';
import type { MembershipStore } from '../state/membership/membership-store';
import { SubscriptionSync } from '../common/subscription-sync';
import { LocalRoomIndex } from './local-room-index';
import { encodeNodeMessage, NodeMessageKind } from '../cluster/node-message';
import { NodeMessageDispatcher } from '../cluster/node-message-dispatcher';
import { NodeBus } from '../cluster/node-bus';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import type { RecoverOptions, StreamPosition } from '../recovery/recover-options';
import { StreamDelivery } from '../recovery/stream-delivery';
import type { PreparedFrame } from '../transport/prepared-frame';
import { decodeRoomEntry, encodeRoomEntry, positionedFrame } from '../recovery/room-entry';

const roomStream = (name: string) => ({ kind: 'room' as const, name });

/** Node-bus request: a connection of the receiving node joined or left a room. */
const MEMBERSHIP_CHANGED = 'mesh:membership';

interface MembershipChange {
  change: 'joined' | 'left';
  room: string;
  connectionId: string;
}

/** A join of a local connection in progress (see `MessageRouter.joining`). */
export interface LocalJoin {
  /** The join's store write finished (whether it succeeded or not). */
  done(): void;
}

/**
 * Delivers encoded frames to connections wherever they are: directly to sockets on this node,
 * with one publish per other node that holds recipients, and for rooms with one publish on the
 * room's channel, which only the nodes with members of the room listen to (interest-based
 * routing: a node with no member of a room never hears of its traffic).
 */
@Injectable()
export class MessageRouter {
  private readonly logger = new Logger('MeshDelivery');
  private readonly localRooms = new LocalRoomIndex();
  /** Local joins in flight per room: the room is listened to from their start. */
  private readonly joinsInFlight = new Map<string, number>();
  private readonly roomSubscriptions: SubscriptionSync;

  constructor(
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    @Inject(MESH_BROKER) private readonly broker: MeshBroker,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    private readonly local: LocalConnections,
    private readonly bus: NodeBus,
    messages: NodeMessageDispatcher,
    private readonly streams: StreamDelivery,
  ) {
    // A recoverable room's broadcasts come on its stream channel; the room channel still carries the rest (a clear).
    const target = {
      subscribe: async (room: string) => {
        await Promise.all([broker.listenToRoom(room), streams.windowOf(roomStream(room)) ? streams.listen(roomStream(room)) : undefined]);
      },
      unsubscribe: async (room: string) => {
        await Promise.all([broker.unlistenRoom(room), streams.windowOf(roomStream(room)) ? streams.unlisten(roomStream(room)) : undefined]);
      },
    };
    streams.onDeliver('room', (room, position, message) => this.deliverFromStream(room, position, message));
    this.roomSubscriptions = new SubscriptionSync(target, (room) => this.localRooms.membersOf(room) !== undefined || this.joinsInFlight.has(room), this.logger, 'room');
    const self = () => this.nodes.nodeId;
    messages.on(NodeMessageKind.SEND, ({ ids, frame }) => {
      const wire = toWire(frame, ids.length);
      for (const id of ids) this.local.get(id)?.sendRaw(wire);
    });
    messages.on(NodeMessageKind.BROADCAST, ({ origin, exclude, frame }) => origin !== self() && this.sendToAllLocal(frame, exclude));
    messages.on(NodeMessageKind.CLOSE, ({ ids, code }) => {
      for (const id of ids) this.local.get(id)?.close(code);
    });
    messages.on(NodeMessageKind.ROOM, ({ origin, room, exclude, frame }) => origin !== self() && this.sendToLocalRoom(room, frame, exclude));
    bus.registerHandler(MEMBERSHIP_CHANGED, (data: unknown) => {
      const { change, room, connectionId } = (data ?? {}) as Partial<MembershipChange>;
      if ((change !== 'joined' && change !== 'left') || typeof room !== 'string' || typeof connectionId !== 'string') throw new TypeError('A malformed membership change');
      return this.applyMembership(change, room, connectionId);
    });
    messages.on(NodeMessageKind.ROOM_CLEARED, ({ origin, room }) => {
      if (origin === self()) return;
      this.localRooms.clear(room);
      void this.syncRoom(room);
    });
  }

  /** Listens to a room's channel while this node has members of it (errors are logged by the sync). */
  private syncRoom(room: string): Promise<void> {
    return this.roomSubscriptions.sync(room).catch(() => undefined);
  }

  /**
   * Call before writing a join of a connection to the store: when the connection is on this
   * node, the room's channel is subscribed at the same time as the write (not one round trip
   * after it), and a broadcast published after the join resolved is heard. Undefined for a
   * connection elsewhere (its node subscribes when told of the join).
   */
  joining(room: string, connectionId: string): LocalJoin | undefined {
    if (!this.local.get(connectionId)) return undefined;
    this.joinsInFlight.set(room, (this.joinsInFlight.get(room) ?? 0) + 1);
    void this.syncRoom(room);
    let finished = false;
    return {
      done: () => {
        if (finished) return;
        finished = true;
        const left = (this.joinsInFlight.get(room) ?? 1) - 1;
        if (left > 0) this.joinsInFlight.set(room, left);
        else this.joinsInFlight.delete(room);
        void this.syncRoom(room);
      },
    };
  }

  /** Whether this node listens to a room's channel now (for diagnostics and tests). */
  listensToRoom(room: string): boolean {
    return this.roomSubscriptions.isSubscribed(room);
  }

  /** How many room channels this node listens to. */
  get listenedRooms(): number {
    return this.roomSubscriptions.size;
  }

  private sendToAllLocal(frame: string, exclude: readonly string[]): void {
    const skip = exclude.length ? new Set(exclude) : undefined;
    const wire = toWire(frame, this.local.size);
    for (const connection of this.local.values()) {
      if (!skip?.has(connection.id)) connection.sendRaw(wire);
    }
  }

  /** Owners of connections not on this node, grouped by node (connections with no owner are dropped). */
  private async remoteOwners(connectionIds: readonly string[]): Promise<Map<string, string[]>> {
    const byNode = new Map<string, string[]>();
    for (const [id, node] of await this.store.getConnectionNodes([...connectionIds])) {
      if (node === this.nodes.nodeId) continue;
      const list = byNode.get(node);
      if (list) list.push(id);
      else byNode.set(node, [id]);
    }
    return byNode;
  }

  /** Sends to the given connections; local ones directly, the others through their nodes. */
  async sendTo(connectionIds: readonly string[], frame: string): Promise<void> {
    const remote: string[] = [];
    const wire = toWire(frame, connectionIds.length);
    for (const id of connectionIds) {
      const connection = this.local.get(id);
      if (connection) connection.sendRaw(wire);
      else remote.push(id);
    }
    if (remote.length) await this.publishByNode(await this.remoteOwners(remote), frame);
  }

  /** Sends to every connection of every node. */
  async broadcast(frame: string, exclude: readonly string[] = []): Promise<void> {
    this.sendToAllLocal(frame, exclude);
    await this.broker.publishToAll(encodeNodeMessage({ kind: NodeMessageKind.BROADCAST, origin: this.nodes.nodeId, exclude: [...exclude], frame }));
  }

  /**
   * Sends to every member of a room: this node's members at once, and one publish on the room's
   * channel that every other node with members answers by sending to its own (no member lookup
   * per message, and nothing for nodes without members).
   */
  async toRoom(room: string, frame: string, exclude: readonly string[] = []): Promise<void> {
    this.sendToLocalRoom(room, frame, exclude);
    await this.broker.publishToRoom(room, encodeNodeMessage({ kind: NodeMessageKind.ROOM, origin: this.nodes.nodeId, room, exclude: [...exclude], frame }));
  }

  /**
   * A recoverable room's broadcast: appended to the room's stream, which publishes it with its
   * offset; every node with members (this one too) delivers it from there, in offset order.
   */
  async toRecoverableRoom(room: string, frame: string, exclude: readonly string[], window: RecoverOptions): Promise<void> {
    await this.streams.append(roomStream(room), encodeRoomEntry(frame, exclude), window);
  }

  private deliverFromStream(room: string, position: StreamPosition, message: string): void {
    const members = this.localRooms.membersOf(room);
    if (!members) return;
    const entry = decodeRoomEntry(message);
    if (!entry) return void this.logger.warn(`Dropped a malformed entry of room "${room.slice(0, 100)}"'s stream`);
    const skip = entry.exclude.length ? new Set(entry.exclude) : undefined;
    const wire: string | PreparedFrame = toWire(positionedFrame(entry.frame, room, position), members.size);
    this.streams.sendAll(this.connectionsOf(members), roomStream(room), position.offset, wire, skip);
  }

  /** This node's live connections among the given ids. */
  private *connectionsOf(ids: Iterable<string>): Generator<Connection> {
    for (const id of ids) {
      const connection = this.local.get(id);
      if (connection) yield connection;
    }
  }

  private sendToLocalRoom(room: string, frame: string, exclude: readonly string[]): void {
    const members = this.localRooms.membersOf(room);
    if (!members) return;
    const skip = exclude.length ? new Set(exclude) : undefined;
    const wire = toWire(frame, members.size);
    for (const id of members) if (!skip?.has(id)) this.local.get(id)?.sendRaw(wire);
  }

  /**
   * Keeps the owner node's room index, and its subscription to the room's channel, in step with
   * a membership change already written to the store. Resolves once the owner applied it.
   */
  async membershipChanged(change: 'joined' | 'left', room: string, connectionId: string, ownerNodeId: string): Promise<void> {
    if (ownerNodeId === this.nodes.nodeId) return this.applyMembership(change, room, connectionId);
    // The owner answers once it listens to the room (or stopped): a broadcast sent after this
    // resolves reaches the member, and one sent after a leave does not.
    try {
      await this.bus.request(ownerNodeId, MEMBERSHIP_CHANGED, { change, room, connectionId } satisfies MembershipChange, this.options.nodeTtl);
    } catch (error) {
      // The store has the change; a node that cannot be reached is dying (its cleanup follows).
      this.logger.warn(`Node ${ownerNodeId} did not confirm that ${connectionId} ${change} room "${room}": ${(error as Error).message}`);
    }
  }

  /**
   * The owner's side of a membership change. A socket that closed meanwhile is not indexed (its
   * cleanup already ran, or will remove the stored membership).
   */
  private async applyMembership(change: 'joined' | 'left', room: string, connectionId: string): Promise<void> {
    if (change === 'joined') {
      if (this.local.get(connectionId)) this.localRooms.join(room, connectionId);
    } else this.localRooms.leave(room, connectionId);
    await this.syncRoom(room);
  }

  /** A room was emptied: every node with members of it forgets them. */
  async roomCleared(room: string): Promise<void> {
    this.localRooms.clear(room);
    // Published before this node may stop listening, to the nodes that still have members.
    await this.broker.publishToRoom(room, encodeNodeMessage({ kind: NodeMessageKind.ROOM_CLEARED, origin: this.nodes.nodeId, room }));
    await this.syncRoom(room);
  }

  private resyncing?: Promise<void>;
  private resyncAgain = false;

  /**
   * Reads this node's room memberships again from the store. Called when the subscription
   * connection came back after a drop: membership changes other nodes published meanwhile
   * were lost. A call during a resync runs another one after it.
   */
  resyncRooms(): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        const ids = [...this.local.values()].map((connection) => connection.id);
        try {
          const { added, removed, changed } = await this.localRooms.reconcile(ids, (list) => Promise.all(list.map((id) => this.store.getRooms(id))));
          if (added || removed) this.logger.warn(`Room index resynchronised from the store: ${added} membership(s) added, ${removed} removed`);
          await Promise.all([...changed].map((room) => this.syncRoom(room)));
        } catch (error) {
          this.logger.error(`Could not resynchronise the room index: ${(error as Error).message}`);
        }
      } while (this.resyncAgain);
    })().finally(() => (this.resyncing = undefined));
    return this.resyncing;
  }

  /** Whether a connection of this node is in a room, as its index has it. */
  hasLocalMember(room: string, connectionId: string): boolean {
    return this.localRooms.membersOf(room)?.has(connectionId) ?? false;
  }

  /** This node's own members of a room, as its index has them (for diagnostics and tests). */
  localMembers(room: string): string[] {
    return [...(this.localRooms.membersOf(room) ?? [])];
  }

  /** A local connection closed: rooms it was the last local member of are no longer listened to. */
  connectionClosed(connectionId: string): void {
    for (const room of this.localRooms.removeConnection(connectionId)) void this.syncRoom(room);
  }

  /** Closes connections wherever they are. */
  async close(connectionIds: readonly string[], code: number): Promise<void> {
    const remote = connectionIds.filter((id) => {
      const connection = this.local.get(id);
      connection?.close(code);
      return !connection;
    });
    if (remote.length === 0) return;
    const byNode = await this.remoteOwners(remote);
    await Promise.all([...byNode].map(([node, ids]) => this.broker.publishToNode(node, encodeNodeMessage({ kind: NodeMessageKind.CLOSE, origin: this.nodes.nodeId, ids, code }))));
  }

  private async publishByNode(byNode: Map<string, string[]>, frame: string): Promise<void> {
    const sends: Promise<number>[] = [];
    for (const [node, ids] of byNode) {
      if (ids.length) sends.push(this.broker.publishToNode(node, encodeNodeMessage({ kind: NodeMessageKind.SEND, origin: this.nodes.nodeId, ids, frame })));
    }
    await Promise.all(sends);
  }
}
