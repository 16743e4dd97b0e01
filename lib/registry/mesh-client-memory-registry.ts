import type { MeshClientRegistryBackend } from './mesh-client-registry-backend';
import type { RegisteredClient, RegisterResult } from './registered-client';
import { decodeClientMetadata, encodeClientMetadata } from './registry-codec';

interface Entry {
  nodeId: string;
  epoch: number;
  connectedAt: number;
  metadata: string;
}

/** The client registry for one process. Same rules as the Redis one; metadata is copied as JSON. */
export class MeshClientMemoryRegistry<TMeta = unknown> implements MeshClientRegistryBackend<TMeta> {
  private readonly clients = new Map<string, Entry>();
  private readonly orphans = new Map<string, RegisteredClient<TMeta>[]>();
  private epoch = 0;

  private view(clientId: string, entry: Entry): RegisteredClient<TMeta> {
    return { clientId, nodeId: entry.nodeId, epoch: entry.epoch, connectedAt: entry.connectedAt, metadata: decodeClientMetadata<TMeta>(entry.metadata) };
  }

  async register(clientId: string, nodeId: string, metadata: TMeta | null, connectedAt: number): Promise<RegisterResult> {
    const previous = this.clients.get(clientId);
    const epoch = ++this.epoch;
    this.clients.set(clientId, { nodeId, epoch, connectedAt, metadata: encodeClientMetadata(metadata) });
    return { epoch, supersededNodeId: previous && previous.nodeId !== nodeId ? previous.nodeId : null };
  }

  async unregister(clientId: string, nodeId: string, epoch?: number): Promise<boolean> {
    const entry = this.clients.get(clientId);
    if (!entry || entry.nodeId !== nodeId || (epoch !== undefined && entry.epoch !== epoch)) return false;
    return this.clients.delete(clientId);
  }

  async updateMetadata(clientId: string, nodeId: string, metadata: TMeta | null): Promise<boolean> {
    const entry = this.clients.get(clientId);
    if (!entry || entry.nodeId !== nodeId) return false;
    entry.metadata = encodeClientMetadata(metadata);
    return true;
  }

  async getClient(clientId: string): Promise<RegisteredClient<TMeta> | null> {
    const entry = this.clients.get(clientId);
    return entry ? this.view(clientId, entry) : null;
  }

  async listClients(): Promise<RegisteredClient<TMeta>[]> {
    return [...this.clients].map(([id, entry]) => this.view(id, entry));
  }

  async listClientsForNode(nodeId: string): Promise<RegisteredClient<TMeta>[]> {
    return (await this.listClients()).filter((client) => client.nodeId === nodeId);
  }

  async cleanupNode(nodeId: string): Promise<RegisteredClient<TMeta>[]> {
    const removed = await this.listClientsForNode(nodeId);
    for (const client of removed) this.clients.delete(client.clientId);
    const all = [...(this.orphans.get(nodeId) ?? []), ...removed];
    this.orphans.set(nodeId, all);
    return all;
  }

  async acknowledgeCleanup(nodeId: string): Promise<void> {
    this.orphans.delete(nodeId);
  }
}
