import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Connection } from '../connection/connection';
import { ConnectionEvents } from '../connection/connection-events';
import { MESH_CLIENT_REGISTRY_BACKEND, MESH_MEMBERSHIP_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { CloseCode } from '../protocol';
import { MeshClientRegistry } from '../registry/mesh-client-registry';
import type { MeshClientRegistryBackend } from '../registry/mesh-client-registry-backend';
import type { MembershipStore } from '../state/membership/membership-store';
import { NodeBus } from './node-bus';

/** Details given to `onClientConnected` listeners. */
export interface ClientConnectedEvent {
  clientId: string;
  connection: Connection;
  /** The node the client was registered on before, when it moved here from another node. */
  supersededNodeId: string | null;
}

export type ClientConnectedListener = (event: ClientConnectedEvent) => void | Promise<void>;
export type ClientDisconnectedListener = (clientId: string, connection: Connection) => void | Promise<void>;

/** Node-bus request: close this node's socket of a client that registered elsewhere. */
const KICK = 'mesh:kick';

/**
 * Registers every connection of this node in the client registry under its client id (option
 * `resolveClientId`), and unregisters it when it leaves. A client that registers again supersedes
 * the older registration: its socket, here or on its node (asked to close it), closes with 4001.
 * Each registration carries an ownership epoch, so a late kick never closes a newer connection.
 */
@Injectable()
export class ClientRegistration<TMeta = unknown> {
  private readonly logger = new Logger('MeshClients');
  private readonly byClientId = new Map<string, Connection>();
  /** The ownership epoch of each local connection's registration. */
  private readonly epochs = new WeakMap<Connection, number>();
  /** What a registration found, kept until the connection is announced. */
  private readonly superseded = new WeakMap<Connection, string | null>();
  /** Registrations in flight, by client id (settled when done, whatever the outcome). */
  private readonly registering = new Map<string, Promise<void>>();
  private readonly connectedListeners: ClientConnectedListener[] = [];
  private readonly disconnectedListeners: ClientDisconnectedListener[] = [];

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    @Inject(MESH_CLIENT_REGISTRY_BACKEND) private readonly backend: MeshClientRegistryBackend<TMeta>,
    private readonly bus: NodeBus,
    events: ConnectionEvents,
  ) {
    events.onRegister((connection, authentication) => this.attach(connection, authentication));
    events.onConnect((connection) => this.announce(connection));
    events.onDisconnect((connection) => this.detach(connection));
    bus.registerHandler(KICK, (d: { clientId: string; epoch: number }) => this.kick(d.clientId, d.epoch));
  }

  /** The registry bound to this node. */
  get registry(): MeshClientRegistry<TMeta> {
    return new MeshClientRegistry<TMeta>(this.nodes.nodeId, this.backend);
  }

  onConnected(listener: ClientConnectedListener): void {
    this.connectedListeners.push(listener);
  }

  onDisconnected(listener: ClientDisconnectedListener): void {
    this.disconnectedListeners.push(listener);
  }

  /** The open socket of a client on this node, if it is here and open. */
  openConnection(clientId: string): Connection | undefined {
    const connection = this.byClientId.get(clientId);
    return connection?.isOpen ? connection : undefined;
  }

  /** The open socket of a client on this node, after its registration in progress (if any) completed. */
  async localConnection(clientId: string): Promise<Connection | undefined> {
    const registering = this.registering.get(clientId);
    if (!this.openConnection(clientId) && registering) await registering;
    return this.openConnection(clientId);
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
    this.superseded.set(connection, supersededNodeId);
  }

  /** `onClientConnected` listeners run once the connection is in the shared state too (they may join it to rooms). */
  private async announce(connection: Connection): Promise<void> {
    const clientId = connection.clientId;
    if (!clientId) return;
    const supersededNodeId = this.superseded.get(connection) ?? null;
    this.superseded.delete(connection);
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
    const clientId = connection.clientId;
    if (!clientId) return;
    if (this.byClientId.get(clientId) === connection) this.byClientId.delete(clientId);
    if (await this.registry.unregister(clientId, this.epochs.get(connection))) {
      for (const listener of this.disconnectedListeners) await this.safely(() => listener(clientId, connection));
    }
  }

  private async safely(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.logger.error(`A MeshClientService listener failed: ${(error as Error).message}`);
    }
  }
}
