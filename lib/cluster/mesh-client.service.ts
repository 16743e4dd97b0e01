import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { MESH_CLIENT_REGISTRY_BACKEND, MESH_MEMBERSHIP_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { isIdempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH } from '../protocol';
import type { MeshClientRegistry } from '../registry/mesh-client-registry';
import type { MeshClientRegistryBackend } from '../registry/mesh-client-registry-backend';
import type { RegisteredClient } from '../registry/registered-client';
import type { MembershipStore } from '../state/membership/membership-store';
import { ClientRegistration, type ClientConnectedListener, type ClientDisconnectedListener } from './client-registration';
import { InvokeRouter } from './invoke-router';
import { NodeBus } from './node-bus';
import { OrphanReporter, type NodeClientsOrphanedListener } from './orphan-reporter';
import { retriedInvoke } from './retried-invoke';

export type { ClientConnectedEvent, ClientConnectedListener, ClientDisconnectedListener } from './client-registration';
export type { NodeClientsOrphanedListener } from './orphan-reporter';

/** The options of `MeshClientService.invoke` (its fourth argument may also be just the timeout). */
export interface InvokeOptions {
  /** Milliseconds to wait for the answer, reconnects included. @default the `invokeTimeout` module option */
  timeoutMs?: number;
  /**
   * Send the invoke again, with the same idempotency key, when the client's connection drops
   * before it answered, once that client id is connected again (on any node) within the timeout.
   * @default false
   */
  retry?: boolean;
  /** The key itself (implies `retry`); default: a random UUID when `retry` is set. Clients remember it for a while. */
  idempotencyKey?: string;
}

/** Node-bus request: write a client's registry metadata on the node that owns it. */
const UPDATE_METADATA = 'mesh:update-client-metadata';

/**
 * Which client is connected to which node, and calling handlers on clients from any node.
 * Every mesh connection is registered under its client id (option `resolveClientId`) and
 * unregistered when it leaves. `TBroadcasts` types node broadcasts: `{ 'cache:flush': { key: string } }`.
 */
@Injectable()
export class MeshClientService<TMeta = any, TBroadcasts extends Record<string, unknown> = Record<string, any>> {
  private readonly logger = new Logger('MeshClients');

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    @Inject(MESH_CLIENT_REGISTRY_BACKEND) private readonly backend: MeshClientRegistryBackend<TMeta>,
    private readonly bus: NodeBus,
    private readonly registration: ClientRegistration<TMeta>,
    private readonly router: InvokeRouter,
    private readonly orphans: OrphanReporter<TMeta>,
  ) {
    bus.registerHandler(UPDATE_METADATA, (d: { clientId: string; metadata: TMeta | null }) => this.registry.updateMetadata(d.clientId, d.metadata));
    registration.onConnected(({ clientId }) => router.forgetRoute(clientId));
  }

  /** This node's numeric id. */
  get instanceId(): number {
    return Number(this.nodes.nodeId);
  }

  /** The registry bound to this node. */
  get registry(): MeshClientRegistry<TMeta> {
    return this.registration.registry;
  }

  getClient(clientId: string): Promise<RegisteredClient<TMeta> | null> {
    return this.backend.getClient(clientId);
  }

  listClients(): Promise<RegisteredClient<TMeta>[]> {
    return this.backend.listClients();
  }

  /** Calls when a client registers on this node (a new arrival, a reconnect, or a move here). */
  onClientConnected(listener: ClientConnectedListener): void {
    this.registration.onConnected(listener);
  }

  /** Calls when a client left this node for good: not when it moved to another node. */
  onClientDisconnected(listener: ClientDisconnectedListener): void {
    this.registration.onDisconnected(listener);
  }

  /** Calls on the leader after a dead node was cleaned up, with the clients that had not reconnected elsewhere. */
  onNodeClientsOrphaned(listener: NodeClientsOrphanedListener<TMeta>): void {
    this.orphans.onOrphaned(listener);
  }

  /**
   * Calls handler `type` on a client, wherever it is connected, and resolves with its result.
   * Errors (the same classes and fields for local and remote clients): `ClientNotFoundError`,
   * `ClientDisconnectedError`, `ClientInvocationError` (the client's handler failed; keeps its
   * code), `MeshRequestTimeoutError` (no answer within the timeout). A client's handler is never
   * called twice for one invoke (see docs/scaling.md for the routing).
   *
   * The fourth argument is the timeout in ms, or {@link InvokeOptions}: with `retry: true` (or an
   * `idempotencyKey`), an invoke whose client dropped before answering waits for that client id
   * to connect again (on any node) within the timeout and is sent again with the same key; a
   * client that supports keys (`nestjs-mesh/client`) answers it without running its handler twice.
   */
  invoke<T = unknown>(clientId: string, type: string, data?: unknown, options: number | InvokeOptions = this.options.invokeTimeout): Promise<T> {
    const { timeoutMs = this.options.invokeTimeout, retry = false, idempotencyKey } = typeof options === 'number' ? { timeoutMs: options } : (options ?? {});
    if (idempotencyKey === undefined && !retry) return this.router.invoke<T>(clientId, type, data, timeoutMs);
    if (idempotencyKey !== undefined && !isIdempotencyKey(idempotencyKey)) {
      return Promise.reject(new TypeError(`invoke: idempotencyKey must be a string of 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters`));
    }
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) return Promise.reject(new TypeError('invoke: timeoutMs must be a positive number'));
    const key = idempotencyKey ?? randomUUID();
    return retriedInvoke((left) => this.router.invoke<T>(clientId, type, data, left, key), clientId, type, timeoutMs);
  }

  /** Replaces a client's registry metadata; only its owner node writes it (asked through the bus if remote). */
  async updateClientMetadata(clientId: string, metadata: TMeta | null): Promise<boolean> {
    const client = await this.backend.getClient(clientId);
    if (!client) return false;
    if (client.nodeId === this.nodes.nodeId) return this.registry.updateMetadata(clientId, metadata);
    try {
      return await this.bus.request<boolean>(client.nodeId, UPDATE_METADATA, { clientId, metadata }, this.options.invokeTimeout);
    } catch (error) {
      this.logger.warn(`Could not update metadata of client ${clientId} on node ${client.nodeId}: ${(error as Error).message}`);
      return false;
    }
  }

  /** Handles node broadcasts of one type. */
  registerBroadcastHandler<K extends keyof TBroadcasts & string>(type: K, handler: (data: TBroadcasts[K], fromNodeId: string) => void | Promise<void>): void {
    this.bus.registerBroadcastHandler(type, handler);
  }

  /** Sends a node broadcast to every node's handlers (this node's too unless `skipSelf`). */
  broadcast<K extends keyof TBroadcasts & string>(type: K, data: TBroadcasts[K], options: { skipSelf?: boolean } = {}): Promise<void> {
    return this.bus.broadcast(type, data, options);
  }
}
