import { Inject, Injectable, Logger } from '@nestjs/common';
import { encodeNodeMessage, NodeMessageKind, type NodeMessageOf } from './node-message';
import { NodeMessageDispatcher } from './node-message-dispatcher';
import { MESH_BROKER, MESH_MEMBERSHIP_STORE } from '../mesh.constants';
import type { MeshBroker } from '../state/broker/mesh-broker';
import type { MembershipStore } from '../state/membership/membership-store';
import { NodeOutbox } from './node-outbox';
import { PendingRequests } from './pending-requests';
import { MeshNodeUnreachableError, MeshNoHandlerError, MeshRequestTimeoutError } from '../errors';
import { deserializeError, serializeError, type SerializedError } from './error-transfer';

export type NodeRequestHandler = (data: any, fromNodeId: string, timeoutMs: number) => unknown | Promise<unknown>;
export type NodeBroadcastHandler<T = any> = (data: T, fromNodeId: string) => void | Promise<void>;

/**
 * Node-to-node messaging over the broker's per-node channels: request/reply with correlation ids
 * and an absolute deadline (the caller's timer is never extended), typed errors rebuilt on the
 * caller's side, and fire-and-forget broadcasts to every node. Requests and replies to one node
 * that leave in the same turn of the event loop share a publish (`NodeOutbox`).
 */
@Injectable()
export class NodeBus {
  private readonly logger = new Logger('MeshNodeBus');
  private readonly handlers = new Map<string, NodeRequestHandler>();
  private readonly broadcastHandlers = new Map<string, Set<NodeBroadcastHandler>>();
  /** Waiting requests, with the node each one was sent to (only that node may answer it). */
  private readonly pending = new PendingRequests<string>();
  private sequence = 0;
  /** Requests and replies to other nodes, sent together when several leave in one turn. */
  private readonly outbox: NodeOutbox;

  constructor(
    @Inject(MESH_BROKER) private readonly broker: MeshBroker,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    messages: NodeMessageDispatcher,
  ) {
    this.outbox = new NodeOutbox(broker);
    messages.on(NodeMessageKind.REQUEST, (message) => void this.onRequest(message));
    messages.on(NodeMessageKind.REPLY, (message) => this.onReply(message));
    messages.on(NodeMessageKind.NODE_BROADCAST, (message) => this.onBroadcast(message));
  }

  /** Handles requests of a type (one handler per type). */
  registerHandler(type: string, handler: NodeRequestHandler): void {
    this.handlers.set(type, handler);
  }

  /** Sends a request to a node and waits for its reply, at most `timeoutMs`. */
  request<T = unknown>(nodeId: string, type: string, data: unknown, timeoutMs: number): Promise<T> {
    // Unique per requesting node (replies come back to it only), cheaper than a UUID.
    const requestId = (++this.sequence).toString(36);
    let body: string;
    try {
      body = JSON.stringify({ type, data, timeoutMs });
    } catch (error) {
      // Data JSON cannot carry (a BigInt, a cycle) fails the request, never its caller's frame.
      return Promise.reject(error);
    }
    const answer = this.pending.wait<T>(
      requestId,
      timeoutMs,
      () => new MeshRequestTimeoutError(`Request "${type}" to node ${nodeId} got no answer within ${timeoutMs} ms`),
      nodeId,
    );
    this.outbox.send(nodeId, { kind: NodeMessageKind.REQUEST, origin: this.nodes.nodeId, requestId, body }, (receivers, error) => {
      if (error) this.pending.settle(requestId, undefined, error);
      else if (receivers === 0) this.pending.settle(requestId, undefined, new MeshNodeUnreachableError(nodeId));
    });
    return answer;
  }

  private async onRequest({ origin, requestId, body }: NodeMessageOf<typeof NodeMessageKind.REQUEST>): Promise<void> {
    let reply: { data?: unknown; error?: SerializedError };
    try {
      const { type, data, timeoutMs } = JSON.parse(body) as { type: string; data: unknown; timeoutMs: number };
      const handler = typeof type === 'string' ? this.handlers.get(type) : undefined;
      if (!handler) throw new MeshNoHandlerError(String(type));
      reply = { data: await handler(data, origin, typeof timeoutMs === 'number' && timeoutMs > 0 ? timeoutMs : 1) };
    } catch (error) {
      reply = { error: serializeError(error) };
    }
    let text: string;
    try {
      text = JSON.stringify(reply);
    } catch (error) {
      // A result JSON cannot carry (a BigInt from clientInvokeFn, say): the caller gets an error, not a timeout.
      text = JSON.stringify({ error: serializeError(new Error(`The answer to node ${origin} could not be encoded as JSON: ${(error as Error).message}`)) });
    }
    this.outbox.send(origin, { kind: NodeMessageKind.REPLY, origin: this.nodes.nodeId, requestId, body: text }, (_receivers, error) => {
      if (error) this.logger.warn(`Could not answer node ${origin}: ${error.message}`);
    });
  }

  private onReply({ origin, requestId, body }: NodeMessageOf<typeof NodeMessageKind.REPLY>): void {
    // A reply counts only from the node the request went to: request ids are predictable, and
    // anything that can publish on this node's channel could otherwise answer in its place.
    if (this.pending.meta(requestId) !== origin) return;
    try {
      const reply = JSON.parse(body) as { data?: unknown; error?: SerializedError };
      this.pending.settle(requestId, reply.data, reply.error ? deserializeError(reply.error) : undefined);
    } catch (error) {
      this.pending.settle(requestId, undefined, error as Error);
    }
  }

  /** Handles node broadcasts of a type (several handlers allowed). */
  registerBroadcastHandler<T = any>(type: string, handler: NodeBroadcastHandler<T>): void {
    let set = this.broadcastHandlers.get(type);
    if (!set) this.broadcastHandlers.set(type, (set = new Set()));
    set.add(handler as NodeBroadcastHandler);
  }

  /** Sends `data` to the handlers of `type` on every node (this one too unless `skipSelf`). */
  async broadcast(type: string, data: unknown, options: { skipSelf?: boolean } = {}): Promise<void> {
    const body = JSON.stringify({ type, data });
    if (!options.skipSelf) this.runBroadcastHandlers(type, JSON.parse(body).data, this.nodes.nodeId);
    await this.broker.publishToAll(encodeNodeMessage({ kind: NodeMessageKind.NODE_BROADCAST, origin: this.nodes.nodeId, body }));
  }

  private onBroadcast({ origin, body }: NodeMessageOf<typeof NodeMessageKind.NODE_BROADCAST>): void {
    if (origin === this.nodes.nodeId) return;
    try {
      const { type, data } = JSON.parse(body) as { type: string; data: unknown };
      this.runBroadcastHandlers(type, data, origin);
    } catch (error) {
      this.logger.warn(`Ignored a malformed node broadcast: ${(error as Error).message}`);
    }
  }

  private runBroadcastHandlers(type: string, data: unknown, origin: string): void {
    for (const handler of this.broadcastHandlers.get(type) ?? []) {
      Promise.resolve()
        .then(() => handler(data, origin))
        .catch((error: Error) => this.logger.error(`Broadcast handler for "${type}" failed: ${error.message}`));
    }
  }

  /** Rejects every request still waiting (the node is stopping). */
  stop(): void {
    this.pending.failWhere(() => true, () => new Error('Node is stopping'));
  }
}
