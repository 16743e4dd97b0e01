import type { MeshClientRegistryBackend } from './mesh-client-registry-backend';
import type { RegisteredClient, RegisterResult } from './registered-client';

/** The client registry seen from one node: the backend with this node's id bound. */
export class MeshClientRegistry<TMeta = unknown> {
  constructor(
    readonly nodeId: string,
    readonly backend: MeshClientRegistryBackend<TMeta>,
  ) {}

  /** Registers a client on this node. Returns the node it was taken from (which must close its socket), or null. */
  async register(clientId: string, metadata: TMeta | null = null, connectedAt = Date.now()): Promise<string | null> {
    return (await this.registerWithEpoch(clientId, metadata, connectedAt)).supersededNodeId;
  }

  /** `register`, with the registration's ownership epoch. */
  registerWithEpoch(clientId: string, metadata: TMeta | null = null, connectedAt = Date.now()): Promise<RegisterResult> {
    return this.backend.register(clientId, this.nodeId, metadata, connectedAt);
  }

  /** Removes the client if this node owns it (with `epoch`: only that registration). */
  unregister(clientId: string, epoch?: number): Promise<boolean> {
    return this.backend.unregister(clientId, this.nodeId, epoch);
  }

  /** Replaces the client's metadata if this node owns it. */
  updateMetadata(clientId: string, metadata: TMeta | null): Promise<boolean> {
    return this.backend.updateMetadata(clientId, this.nodeId, metadata);
  }

  getClient(clientId: string): Promise<RegisteredClient<TMeta> | null> {
    return this.backend.getClient(clientId);
  }

  listClients(): Promise<RegisteredClient<TMeta>[]> {
    return this.backend.listClients();
  }

  listClientsForNode(nodeId: string = this.nodeId): Promise<RegisteredClient<TMeta>[]> {
    return this.backend.listClientsForNode(nodeId);
  }

  /** Takes a dead node's clients out of the registry and returns those it still owned. */
  cleanupNode(nodeId: string): Promise<RegisteredClient<TMeta>[]> {
    return this.backend.cleanupNode(nodeId);
  }
}
