import { CloseCode } from '../protocol';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { ConnectionEvents } from '../connection/connection-events';
import { MESH_CLIENT_REGISTRY_BACKEND, MESH_MEMBERSHIP_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MeshClientRegistry } from '../registry/mesh-client-registry';
import type { MeshClientRegistryBackend } from '../registry/mesh-client-registry-backend';
import type { RegisteredClient } from '../registry/registered-client';
import type { MembershipStore } from '../state/membership/membership-store';
import { ClientInvoker } from './client-invoker';
import { ClientDisconnectedError, ClientNotFoundError, ClientNotOnNodeError, MeshNodeUnreachableError, MeshRequestTimeoutError } from '../errors';
import { NodeBus } from './node-bus';
import { NodeMembership } from './node-membership';

/** Details given to `onClientConnected` listeners. */
export interface ClientConnectedEvent {
  clientId: string;
  connection: Connection;
  /** The node the client was registered on before, when it moved here from another node. */
  supersededNodeId: string | null;
}

export type ClientConnectedListener = (event: ClientConnectedEvent) => void | Promise<void>;
export type ClientDisconnectedListener = (clientId: string, connection: Connection) => void | Promise<void>;
export type NodeClientsOrphanedListener<TMeta> = (nodeId: string, clients: RegisteredClient<TMeta>[]) => void | Promise<void>;

const INVOKE = 'mesh:invoke';
const KICK = 'mesh:kick';
const UPDATE_METADATA = 'mesh:update-client-metadata';

/** The node a route named has no socket for the client, or is gone. */
const isWrongRoute = (error: unknown): boolean => error instanceof ClientNotOnNodeError || error instanceof MeshNodeUnreachableError;

/** What a remote client would receive: the data after a JSON round trip. */
const jsonCopy = (data: unknown): unknown => JSON.parse(JSON.stringify(data ?? null));

/**
 * Which client is connected to which node, and calling handlers on clients from any node.
 * Every mesh connection is registered under its client id (option `resolveClientId`) and
 * unregistered when it leaves. `TBroadcasts` types node broadcasts: `{ 'cache:flush': { key: string } }`.
 */
@Injectable()
export class MeshClientService<TMeta = any, TBroadcasts extends Record<string, unknown> = Record<string, any>> {
  private readonly logger = new Logger('MeshClients');
  private readonly byClientId = new Map<string, Connection>();
  /** The ownership epoch of each local connection's registration. */
  private readonly epochs = new WeakMap<Connection, number>();
  /** Registrations in flight, by client id (settled when done, whatever the outcome). */
  private readonly registering = new Map<string, Promise<void>>();
  /** Remote clients' last known nodes (a hint; see `invoke`), oldest first. */
  private readonly routes = new Map<string, string>();
  private readonly connectedListeners: ClientConnectedListener[] = [];
  private readonly disconnectedListeners: ClientDisconnectedListener[] = [];
  private readonly orphanedListeners: NodeClientsOrphanedListener<TMeta>[] = [];

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    @Inject(MESH_CLIENT_REGISTRY_BACKEND) private readonly backend: MeshClientRegistryBackend<TMeta>,
    private readonly bus: NodeBus,
    private readonly invoker: ClientInvoker,
    events: ConnectionEvents,
    membership: NodeMembership,
  ) {
    events.onConnect((connection, authentication) => this.attach(connection, authentication));
    events.onDisconnect((connection) => this.detach(connection));
    bus.registerHandler(INVOKE, (d: { clientId: string; type: string; data: unknown }, _from, timeoutMs) => this.invokeForPeer(d.clientId, d.type, d.data, timeoutMs));
    bus.registerHandler(KICK, (d: { clientId: string; epoch: number }) => this.kick(d.clientId, d.epoch));
    bus.registerHandler(UPDATE_METADATA, (d: { clientId: string; metadata: TMeta | null }) => this.registry.updateMetadata(d.clientId, d.metadata));
    membership.onDeadNode(({ nodeId }) => this.reportOrphans(nodeId));
  }

  /** This node's numeric id. */
  get instanceId(): number {
    return Number(this.nodes.nodeId);
  }

  /** The registry bound to this node. */
  get registry(): MeshClientRegistry<TMeta> {
    return new MeshClientRegistry<TMeta>(this.nodes.nodeId, this.backend);
  }

  getClient(clientId: string): Promise<RegisteredClient<TMeta> | null> {
    return this.backend.getClient(clientId);
  }

  listClients(): Promise<RegisteredClient<TMeta>[]> {
    return this.backend.listClients();
  }

  /** Calls when a client registers on this node (a new arrival, a reconnect, or a move here). */
  onClientConnected(listener: ClientConnectedListener): void {
    this.connectedListeners.push(listener);
  }

  /** Calls when a client left this node for good: not when it moved to another node. */
  onClientDisconnected(listener: ClientDisconnectedListener): void {
    this.disconnectedListeners.push(listener);
  }

  /** Calls on the leader after a dead node was cleaned up, with the clients that had not reconnected elsewhere. */
  onNodeClientsOrphaned(listener: NodeClientsOrphanedListener<TMeta>): void {
    this.orphanedListeners.push(listener);
  }

  /**
   * Calls handler `type` on a client, wherever it is connected, and resolves with its result.
   * Errors (the same classes and fields for local and remote clients): `ClientNotFoundError`,
   * `ClientDisconnectedError`, `ClientInvocationError` (the client's handler failed; keeps its
   * code), `MeshRequestTimeoutError` (no answer within `timeoutMs`).
   *
   * A client connected to this node is called directly. For a remote client the registry names
   * the owner node; that route is remembered (option `clientRouteCacheSize`) so that the next
   * invoke goes straight to it. The owner checks that the client is still connected there before
   * calling it; if it is not, the route is dropped and the registry read again, once, within the
   * same deadline. A client's handler is never called twice for one invoke.
   */
  async invoke<T = unknown>(clientId: string, type: string, data?: unknown, timeoutMs: number = this.options.invokeTimeout): Promise<T> {
    if (typeof clientId !== 'string' || clientId === '') throw new TypeError('invoke: clientId must be a non-empty string');
    if (typeof type !== 'string' || type === '') throw new TypeError('invoke: type must be a non-empty string');
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('invoke: timeoutMs must be a positive number');
    const deadline = Date.now() + timeoutMs;
    if (this.byClientId.get(clientId)?.isOpen) return (await this.invokeLocal(clientId, type, jsonCopy(data), timeoutMs)) as T;
    const cached = this.routes.get(clientId);
    if (cached !== undefined) {
      try {
        return await this.bus.request<T>(cached, INVOKE, { clientId, type, data }, timeoutMs);
      } catch (error) {
        if (!isWrongRoute(error)) throw error;
        this.routes.delete(clientId);
      }
    }
    const client = await this.backend.getClient(clientId);
    if (!client) throw new ClientNotFoundError(clientId);
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new MeshRequestTimeoutError(`Invoke "${type}" of client ${clientId} found no live route within ${timeoutMs} ms`);
    if (client.nodeId === this.nodes.nodeId) return (await this.invokeLocal(clientId, type, jsonCopy(data), remaining)) as T;
    // The node that just said "not here" is still the registered owner: the client is gone.
    if (client.nodeId === cached) throw new ClientDisconnectedError(clientId);
    this.remember(clientId, client.nodeId);
    try {
      return await this.bus.request<T>(client.nodeId, INVOKE, { clientId, type, data }, remaining);
    } catch (error) {
      if (!isWrongRoute(error)) throw error;
      this.routes.delete(clientId);
      throw new ClientDisconnectedError(clientId);
    }
  }

  private remember(clientId: string, nodeId: string): void {
    const capacity = this.options.clientRouteCacheSize;
    if (capacity === 0) return;
    if (!this.routes.has(clientId) && this.routes.size >= capacity) this.routes.delete(this.routes.keys().next().value as string);
    this.routes.set(clientId, nodeId);
  }

  /** The open socket of a client on this node, after its registration in progress (if any) completed. */
  private async localConnection(clientId: string): Promise<Connection | undefined> {
    let connection = this.byClientId.get(clientId);
    const registering = this.registering.get(clientId);
    if ((!connection || !connection.isOpen) && registering) {
      await registering;
      connection = this.byClientId.get(clientId);
    }
    return connection?.isOpen ? connection : undefined;
  }

  private async invokeLocal(clientId: string, type: string, data: unknown, timeoutMs: number): Promise<unknown> {
    if (this.options.clientInvokeFn) return this.options.clientInvokeFn(clientId, type, data, timeoutMs);
    const connection = await this.localConnection(clientId);
    if (!connection) throw new ClientDisconnectedError(clientId);
    return this.invoker.invoke(connection, clientId, type, data, timeoutMs);
  }

  /** An invoke sent here by another node: "not here" is its own answer, so the caller can re-route. */
  private async invokeForPeer(clientId: string, type: string, data: unknown, timeoutMs: number): Promise<unknown> {
    if (this.options.clientInvokeFn) {
      try {
        return await this.options.clientInvokeFn(clientId, type, data, timeoutMs);
      } catch (error) {
        // Its documented way of saying "not here".
        if (error instanceof ClientDisconnectedError) throw new ClientNotOnNodeError(clientId);
        throw error;
      }
    }
    const connection = await this.localConnection(clientId);
    if (!connection) throw new ClientNotOnNodeError(clientId);
    return this.invoker.invoke(connection, clientId, type, data, timeoutMs);
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

  private async attach(connection: Connection, authentication: Record<string, unknown> | undefined): Promise<void> {
    const clientId = this.options.resolveClientId ? await this.options.resolveClientId(connection, connection.request, authentication) : connection.id;
    if (typeof clientId !== 'string' || clientId === '') throw new Error(`resolveClientId returned ${JSON.stringify(clientId)}; expected a non-empty string`);
    // Once the registry names this node, an invoke may arrive before the socket is in
    // `byClientId`; it waits for this registration (see `localConnection`).
    let registered!: () => void;
    const settled = new Promise<void>((resolve) => (registered = resolve));
    this.registering.set(clientId, settled);
    let supersededNodeId: string | null;
    let epoch: number;
    let older: Connection | undefined;
    try {
      ({ supersededNodeId, epoch } = await this.registry.registerWithEpoch(clientId, null, connection.connectedAt));
      connection.assignClientId(clientId);
      this.epochs.set(connection, epoch);
      this.routes.delete(clientId);
      older = this.byClientId.get(clientId);
      this.byClientId.set(clientId, connection);
    } finally {
      if (this.registering.get(clientId) === settled) this.registering.delete(clientId);
      registered();
    }
    if (older && older !== connection) older.close(CloseCode.SUPERSEDED, 'Connected again elsewhere');
    if (supersededNodeId) {
      this.bus.request(supersededNodeId, KICK, { clientId, epoch }, this.options.invokeTimeout).catch((error: Error) => {
        this.logger.debug(`Kick of client ${clientId} on node ${supersededNodeId} not delivered: ${error.message}`);
      });
    }
    for (const listener of this.connectedListeners) await this.safely(() => listener({ clientId, connection, supersededNodeId }));
  }

  /** Closes this node's socket of a client that registered elsewhere, unless it is newer than the kick. */
  private kick(clientId: string, epoch: number): boolean {
    const connection = this.byClientId.get(clientId);
    if (!connection || (this.epochs.get(connection) ?? 0) >= epoch) return false;
    this.byClientId.delete(clientId);
    connection.close(CloseCode.SUPERSEDED, 'Connected again elsewhere');
    return true;
  }

  private async detach(connection: Connection): Promise<void> {
    this.invoker.connectionClosed(connection);
    const clientId = connection.clientId;
    if (!clientId) return;
    if (this.byClientId.get(clientId) === connection) this.byClientId.delete(clientId);
    if (await this.registry.unregister(clientId, this.epochs.get(connection))) {
      for (const listener of this.disconnectedListeners) await this.safely(() => listener(clientId, connection));
    }
  }

  private async reportOrphans(nodeId: string): Promise<void> {
    const orphans = await this.backend.cleanupNode(nodeId);
    if (orphans.length > 0) {
      for (const listener of this.orphanedListeners) await this.safely(() => listener(nodeId, orphans));
    }
    await this.backend.acknowledgeCleanup(nodeId);
  }

  private async safely(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.logger.error(`A MeshClientService listener failed: ${(error as Error).message}`);
    }
  }
}
