import type { RegisteredClient, RegisterResult } from './registered-client';

/**
 * Where the client registry lives. Every write is atomic and ownership-safe: only the node that
 * owns a client may unregister it or change its metadata. Implementations: `MeshClientRedisRegistry`
 * (many nodes) and `MeshClientMemoryRegistry` (one process); write your own for another store.
 */
export interface MeshClientRegistryBackend<TMeta = unknown> {
  /** Registers (or moves) a client to `nodeId`; reports the node it was taken from. */
  register(clientId: string, nodeId: string, metadata: TMeta | null, connectedAt: number): Promise<RegisterResult>;
  /** Removes the client if `nodeId` owns it (and, with `epoch`, only that registration). */
  unregister(clientId: string, nodeId: string, epoch?: number): Promise<boolean>;
  /** Replaces the client's metadata if `nodeId` owns it. */
  updateMetadata(clientId: string, nodeId: string, metadata: TMeta | null): Promise<boolean>;
  getClient(clientId: string): Promise<RegisteredClient<TMeta> | null>;
  listClients(): Promise<RegisteredClient<TMeta>[]>;
  listClientsForNode(nodeId: string): Promise<RegisteredClient<TMeta>[]>;
  /**
   * Takes the clients still owned by a dead node out of the registry and returns them (the
   * orphans). The result is kept until `acknowledgeCleanup`, so a cleanup interrupted by a crash
   * returns the same orphans to the next caller; clients that moved elsewhere are not orphans.
   */
  cleanupNode(nodeId: string): Promise<RegisteredClient<TMeta>[]>;
  /** Forgets the orphans of a node once they were reported. */
  acknowledgeCleanup(nodeId: string): Promise<void>;
}
