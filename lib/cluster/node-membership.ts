import { CloseCode } from '../protocol';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { LocalConnections } from '../connection/local-connections';
import { MeshTransport } from '../transport/mesh-transport';
import { MESH_BROKER, MESH_MEMBERSHIP_STORE, MESH_SHARED_STATE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import type { MeshBroker } from '../state/broker/mesh-broker';
import type { MembershipStore } from '../state/membership/membership-store';
import type { SharedState } from '../state/shared-state/shared-state';

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
    @Inject(MESH_MEMBERSHIP_STORE) private readonly store: MembershipStore,
    @Inject(MESH_SHARED_STATE) private readonly state: SharedState,
    @Inject(MESH_BROKER) private readonly broker: MeshBroker,
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

  /** Joins the cluster (a node id, its channel, its first heartbeat), then beats every `nodeHeartbeatInterval`. */
  async start(): Promise<void> {
    await this.join();
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

  /** Leaves the cluster at shutdown: whatever connections the store still lists for this node go, then the node itself. */
  async leave(): Promise<void> {
    await this.removeConnectionsOf(this.store.nodeId);
    await this.store.unlist(this.store.nodeId);
  }

  /** Takes a node id, listening on its channel before the node is listed so that nothing sent to it is missed. */
  private async join(): Promise<void> {
    const previous = this.store.nodeId;
    const id = await this.store.join(this.options.nodeTtl, (nodeId) => this.broker.listenAsNode(nodeId));
    this.lastHeartbeat = Date.now();
    // The id counter restarts when Redis loses its data, so the new id may be the old one.
    if (previous && previous !== id) await this.broker.unlistenNode(previous);
  }

  /** Removes a node's connections from the shared state in bounded steps; returns how many. */
  private async removeConnectionsOf(nodeId: string): Promise<number> {
    let removed = 0;
    for (;;) {
      const step = await this.state.removeNodeConnections(nodeId);
      removed += step.removed.length;
      if (step.left === 0) return removed;
    }
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
      await this.join();
    })();
    // Clients reconnect at once; their upgrades wait for the new id instead of taking the old one.
    this.transport.holdUpgrades(rejoined);
    await rejoined;
    this.logger.log(`Node ${old} rejoined as node ${this.store.nodeId}`);
  }

  /**
   * Takes expired nodes out of the cluster, each recorded as pending in the same atomic step;
   * then, for every pending dead node, removes its connections (in bounded steps, idempotent),
   * runs the listeners and acknowledges it. A leader that dies halfway leaves the node pending,
   * and the next leader does it all again; listeners must tolerate a rerun (the client
   * registry's cleanup returns the same orphans until acknowledged).
   */
  private async cleanDeadNodes(): Promise<void> {
    for (const nodeId of await this.store.findDeadNodes()) {
      if (nodeId !== this.store.nodeId) await this.store.unlist(nodeId, { dead: true });
    }
    for (const nodeId of await this.store.pendingDeadNodes()) {
      const removed = await this.removeConnectionsOf(nodeId);
      this.logger.log(`Removed dead node ${nodeId} and its ${removed} connection(s)`);
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
