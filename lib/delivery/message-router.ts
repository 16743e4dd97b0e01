import { Inject, Injectable, Logger } from '@nestjs/common';
import { LocalConnections } from '../connection/local-connections';
import { toWire } from '../transport/prepared-frame';
import { MESH_BROKER, MESH_MEMBERSHIP_STORE, MESH_SHARED_STATE } from '../mesh.constants';
import type { SharedState } from '../state/shared-state/shared-state';
import type { MeshBroker } from '../state/broker/mesh-broker';
import type { MembershipStore } from '../state/membership/membership-store';
import { LocalRoomIndex } from './local-room-index';
import { encodeNodeMessage, NodeMessageKind } from '../cluster/node-message';
import { NodeMessageDispatcher } from '../cluster/node-message-dispatcher';

/**
 * Delivers encoded frames to connections wherever they are: directly to sockets on this node,
 * and with one publish per other node that holds recipients.
 */
@Injectable()
export class MessageRouter {
  private readonly logger = new Logger('MeshDelivery');
  private readonly localRooms = new LocalRoomIndex();

  constructor(
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    @Inject(MESH_BROKER) private readonly broker: MeshBroker,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    private readonly local: LocalConnections,
    messages: NodeMessageDispatcher,
  ) {
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
    messages.on(NodeMessageKind.JOINED, ({ room, ids }) => {
      for (const id of ids) if (this.local.get(id)) this.localRooms.join(room, id);
    });
    messages.on(NodeMessageKind.LEFT, ({ room, ids }) => {
      for (const id of ids) this.localRooms.leave(room, id);
    });
    messages.on(NodeMessageKind.ROOM_CLEARED, ({ origin, room }) => origin !== self() && this.localRooms.clear(room));
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
   * Sends to every member of a room: this node's members at once, and one publish that every
   * other node answers by sending to its own members (no member lookup per message).
   */
  async toRoom(room: string, frame: string, exclude: readonly string[] = []): Promise<void> {
    this.sendToLocalRoom(room, frame, exclude);
    await this.broker.publishToAll(encodeNodeMessage({ kind: NodeMessageKind.ROOM, origin: this.nodes.nodeId, room, exclude: [...exclude], frame }));
  }

  private sendToLocalRoom(room: string, frame: string, exclude: readonly string[]): void {
    const members = this.localRooms.membersOf(room);
    if (!members) return;
    const skip = exclude.length ? new Set(exclude) : undefined;
    const wire = toWire(frame, members.size);
    for (const id of members) if (!skip?.has(id)) this.local.get(id)?.sendRaw(wire);
  }

  /**
   * Keeps the owner node's room index in step with a membership change already written to the
   * store. Published before the caller's next message, so a broadcast that follows finds it.
   */
  async membershipChanged(change: 'joined' | 'left', room: string, connectionId: string, ownerNodeId: string): Promise<void> {
    if (ownerNodeId === this.nodes.nodeId) {
      // As for a join sent by another node: a socket that closed meanwhile is not indexed (its
      // cleanup already ran, or will remove the stored membership).
      if (change === 'joined') {
        if (this.local.get(connectionId)) this.localRooms.join(room, connectionId);
      } else this.localRooms.leave(room, connectionId);
      return;
    }
    const kind = change === 'joined' ? NodeMessageKind.JOINED : NodeMessageKind.LEFT;
    await this.broker.publishToNode(ownerNodeId, encodeNodeMessage({ kind, origin: this.nodes.nodeId, room, ids: [connectionId] }));
  }

  /** A room was emptied: every node forgets its local members of it. */
  async roomCleared(room: string): Promise<void> {
    this.localRooms.clear(room);
    await this.broker.publishToAll(encodeNodeMessage({ kind: NodeMessageKind.ROOM_CLEARED, origin: this.nodes.nodeId, room }));
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
          const { added, removed } = await this.localRooms.reconcile(ids, (list) => Promise.all(list.map((id) => this.store.getRooms(id))));
          if (added || removed) this.logger.warn(`Room index resynchronised from the store: ${added} membership(s) added, ${removed} removed`);
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

  /** A local connection closed. */
  connectionClosed(connectionId: string): void {
    this.localRooms.removeConnection(connectionId);
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
