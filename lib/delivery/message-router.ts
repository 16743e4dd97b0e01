import { Inject, Injectable, Logger } from '@nestjs/common';
import { LocalConnections } from '../connection/local-connections';
import { toWire } from '../connection/prepared-frame';
import { MESH_STORE } from '../mesh.constants';
import type { MeshStore } from '../state/mesh-store.interface';
import { decodeEnvelope, encodeEnvelope, type EnvelopeKind, type NodeEnvelope } from './node-envelope';

/**
 * Delivers encoded frames to connections wherever they are: directly to sockets on this node,
 * and with one publish per other node that holds recipients.
 */
@Injectable()
export class MessageRouter {
  private readonly logger = new Logger('MeshDelivery');
  private readonly envelopeHandlers = new Map<EnvelopeKind, (envelope: NodeEnvelope) => void>();

  constructor(
    @Inject(MESH_STORE) private readonly store: MeshStore,
    private readonly local: LocalConnections,
  ) {}

  /** Routes node-to-node envelopes of another kind (requests, replies, node broadcasts) to their owner. */
  onEnvelope(kind: EnvelopeKind, handler: (envelope: NodeEnvelope) => void): void {
    this.envelopeHandlers.set(kind, handler);
  }

  /** Handles an envelope another node (or this one) published. */
  handleNodeMessage(text: string): void {
    const envelope = decodeEnvelope(text);
    if (!envelope) {
      this.logger.warn(`Ignored a malformed node message (${text.slice(0, 40)}...)`);
      return;
    }
    const { kind, origin, ids, body } = envelope;
    if (kind === 's') {
      const wire = toWire(body, ids.length);
      for (const id of ids) this.local.get(id)?.sendRaw(wire);
    } else if (kind === 'a') {
      if (origin !== this.store.nodeId) this.sendToAllLocal(body, ids);
    } else if (kind === 'x') {
      for (const id of ids) this.local.get(id)?.close(Number(body) || undefined);
    } else {
      this.envelopeHandlers.get(kind)?.(envelope);
    }
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
      if (node === this.store.nodeId) continue;
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
    await this.store.publishToAll(encodeEnvelope('a', this.store.nodeId, exclude, frame));
  }

  /** Sends to every member of a room, looked up in one store round trip. */
  async toRoom(room: string, frame: string, exclude: readonly string[] = []): Promise<void> {
    const byNode = await this.store.getRoomMembersByNode(room);
    if (exclude.length) {
      const skip = new Set(exclude);
      for (const [node, ids] of byNode) byNode.set(node, ids.filter((id) => !skip.has(id)));
    }
    const localIds = byNode.get(this.store.nodeId);
    if (localIds) {
      const wire = toWire(frame, localIds.length);
      for (const id of localIds) this.local.get(id)?.sendRaw(wire);
      byNode.delete(this.store.nodeId);
    }
    await this.publishByNode(byNode, frame);
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
    await Promise.all([...byNode].map(([node, ids]) => this.store.publishToNode(node, encodeEnvelope('x', this.store.nodeId, ids, String(code)))));
  }

  /** Publishes an envelope to one node; resolves with how many subscribers received it (0: the node is gone). */
  publishEnvelope(nodeId: string, envelope: string): Promise<number> {
    return this.store.publishToNode(nodeId, envelope);
  }

  private async publishByNode(byNode: Map<string, string[]>, frame: string): Promise<void> {
    const sends: Promise<number>[] = [];
    for (const [node, ids] of byNode) {
      if (ids.length) sends.push(this.store.publishToNode(node, encodeEnvelope('s', this.store.nodeId, ids, frame)));
    }
    await Promise.all(sends);
  }
}
