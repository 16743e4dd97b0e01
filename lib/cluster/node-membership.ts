import { CloseCode } from '../protocol';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { LocalConnections } from '../connection/local-connections';
import { MeshTransport } from '../transport/mesh-transport';
import { MESH_STORE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import type { MeshStore } from '../state/mesh-store.interface';

/** What the leader reports after removing a dead node's connections. */
export interface DeadNodeCleanup {
  nodeId: string;
}

export type DeadNodeListener = (cleanup: DeadNodeCleanup) => void | Promise<void>;

/**
 * Node liveness. Every `nodeHeartbeatInterval` the node renews its heartbeat (valid for
 * `nodeTtl`) and competes for the leader role; the leader removes the state of listed nodes
 * whose heartbeat expired. A crashed node is therefore cleaned up within about
 * `nodeTtl + nodeHeartbeatInterval`. A node that finds itself no longer listed (it was declared
 * dead during a long pause, or Redis lost its data) fences itself: it closes its sockets with
 * 1012 so their clients reconnect and register afresh, and rejoins under a new node id.
 */
@Injectable()
export class NodeMembership {
  private readonly logger = new Logger('MeshCluster');
  private readonly listeners: DeadNodeListener[] = [];
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private leader = false;

  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_STORE) private readonly store: MeshStore,
    private readonly local: LocalConnections,
    private readonly transport: MeshTransport,
  ) {}

  private lastHeartbeat?: number;

  /** Milliseconds since the last heartbeat the cluster accepted; null before the first. */
  get heartbeatAgeMs(): number | null {
    return this.lastHeartbeat === undefined ? null : Date.now() - this.lastHeartbeat;
  }

  /** True while this node holds the leader role. */
  get isLeader(): boolean {
    return this.leader;
  }

  /** Called on the leader after it removed a dead node's state. */
  onDeadNode(listener: DeadNodeListener): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => {
      if (!this.ticking) this.ticking = this.tick().finally(() => (this.ticking = undefined));
    }, this.options.nodeHeartbeatInterval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    if (this.leader) await this.store.resign().catch(() => undefined);
    this.leader = false;
  }

  /** One round: heartbeat, fence if unlisted, leader election, dead-node cleanup. */
  async tick(): Promise<void> {
    try {
      if (!(await this.store.heartbeat(this.options.nodeTtl))) {
        await this.fence();
        return;
      }
      this.lastHeartbeat = Date.now();
      this.leader = await this.store.lead(this.options.nodeTtl);
      if (this.leader) await this.cleanDeadNodes();
    } catch (error) {
      this.logger.warn(`Cluster heartbeat failed: ${(error as Error).message}`);
    }
  }

  private async fence(): Promise<void> {
    const old = this.store.nodeId;
    const sockets = [...this.local.values()];
    this.logger.warn(`Node ${old} is no longer listed by the cluster (or its id was taken); closing its ${sockets.length} connection(s) and rejoining`);
    const rejoined = (async () => {
      for (const connection of sockets) connection.close(CloseCode.SERVICE_RESTART, 'Node fenced; reconnect');
      await this.store.rejoin();
      if (await this.store.heartbeat(this.options.nodeTtl)) this.lastHeartbeat = Date.now();
    })();
    // Clients reconnect at once; their upgrades wait for the new id instead of taking the old one.
    this.transport.holdUpgrades(rejoined);
    await rejoined;
    this.logger.log(`Node ${old} rejoined as node ${this.store.nodeId}`);
  }

  /**
   * Removes expired nodes (recording each as pending in the same atomic step), then runs the
   * listeners for every pending dead node and acknowledges it. A leader that dies halfway leaves
   * the node pending, and the next leader runs its listeners; listeners must tolerate a rerun
   * (the client registry's cleanup returns the same orphans until acknowledged).
   */
  private async cleanDeadNodes(): Promise<void> {
    for (const nodeId of await this.store.findDeadNodes()) {
      if (nodeId === this.store.nodeId) continue;
      const connectionIds = await this.store.removeNode(nodeId, { dead: true });
      this.logger.log(`Removed dead node ${nodeId} and its ${connectionIds.length} connection(s)`);
    }
    for (const nodeId of await this.store.pendingDeadNodes()) {
      let failed = false;
      for (const listener of this.listeners) {
        try {
          await listener({ nodeId });
        } catch (error) {
          failed = true;
          this.logger.error(`Cleanup of dead node ${nodeId} failed, will retry: ${(error as Error).message}`);
        }
      }
      if (!failed) await this.store.acknowledgeDeadNode(nodeId);
    }
  }
}
