import { Inject, Injectable, Logger } from '@nestjs/common';
import { MESH_CLIENT_REGISTRY_BACKEND } from '../mesh.constants';
import type { MeshClientRegistryBackend } from '../registry/mesh-client-registry-backend';
import type { RegisteredClient } from '../registry/registered-client';
import { NodeMembership } from './node-membership';

export type NodeClientsOrphanedListener<TMeta> = (nodeId: string, clients: RegisteredClient<TMeta>[]) => void | Promise<void>;

/**
 * On the leader, after a dead node was removed: takes its clients out of the registry and tells
 * the listeners which ones had not reconnected elsewhere (the orphans). The registry keeps them
 * until acknowledged, so a leader that dies halfway leaves the report to the next one.
 */
@Injectable()
export class OrphanReporter<TMeta = unknown> {
  private readonly logger = new Logger('MeshClients');
  private readonly listeners: NodeClientsOrphanedListener<TMeta>[] = [];

  constructor(
    @Inject(MESH_CLIENT_REGISTRY_BACKEND) private readonly backend: MeshClientRegistryBackend<TMeta>,
    membership: NodeMembership,
  ) {
    membership.onDeadNode(({ nodeId }) => this.report(nodeId));
  }

  onOrphaned(listener: NodeClientsOrphanedListener<TMeta>): void {
    this.listeners.push(listener);
  }

  private async report(nodeId: string): Promise<void> {
    const orphans = await this.backend.cleanupNode(nodeId);
    for (const listener of orphans.length > 0 ? this.listeners : []) {
      try {
        await listener(nodeId, orphans);
      } catch (error) {
        this.logger.error(`A MeshClientService listener failed: ${(error as Error).message}`);
      }
    }
    await this.backend.acknowledgeCleanup(nodeId);
  }
}
