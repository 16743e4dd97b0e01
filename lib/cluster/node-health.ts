import { Inject, Injectable } from '@nestjs/common';
import { describeOutcome, settleWithin } from '../common/settle-within';
import { LocalConnections } from '../connection/local-connections';
import { MESH_BROKER, MESH_MEMBERSHIP_STORE, MESH_SHARED_STATE } from '../mesh.constants';
import { MESH_RESOLVED_OPTIONS } from '../mesh-options';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import type { SharedState } from '../state/shared-state/shared-state';
import type { MeshBroker } from '../state/broker/mesh-broker';
import type { MembershipStore } from '../state/membership/membership-store';
import { MeshTransport } from '../transport/mesh-transport';
import { NodeMembership } from './node-membership';

/**
 * `up`: serving normally. `degraded`: serving, but messages from other nodes are being lost or
 * heartbeats are late. `down`: take the node out of rotation (the store is unreachable, the
 * cluster may have removed it, or it is starting or shutting down).
 */
export type MeshHealthStatus = 'up' | 'degraded' | 'down';

/** One node's health, from `MeshServer.health()`. */
export interface MeshHealth {
  status: MeshHealthStatus;
  /** Why the status is not `up`, one sentence each; empty when up. */
  problems: string[];
  nodeId: string;
  leader: boolean;
  /** Sockets on this node. */
  connections: number;
  /** The endpoint takes new connections. */
  accepting: boolean;
  store: 'redis' | 'memory';
  /** Round trip to the store in ms; null when it failed or timed out. */
  storeLatencyMs: number | null;
  /** The subscription connection is up (false: messages from other nodes are being lost). */
  listening: boolean;
  /** Ms since the cluster last accepted this node's heartbeat; null before the first. */
  heartbeatAgeMs: number | null;
}

/** Reads a node's health: a store round trip, heartbeat freshness, subscription and endpoint state. */
@Injectable()
export class NodeHealth {
  constructor(
    @Inject(MESH_RESOLVED_OPTIONS) private readonly options: ResolvedMeshOptions,
    @Inject(MESH_SHARED_STATE) private readonly store: SharedState,
    @Inject(MESH_BROKER) private readonly broker: MeshBroker,
    @Inject(MESH_MEMBERSHIP_STORE) private readonly nodes: MembershipStore,
    private readonly membership: NodeMembership,
    private readonly transport: MeshTransport,
    private readonly local: LocalConnections,
  ) {}

  async check(timeoutMs = 1000): Promise<MeshHealth> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('health: timeoutMs must be a positive number');
    const problems: string[] = [];
    let down = false;
    let storeLatencyMs: number | null = null;
    const started = performance.now();
    const ping = await settleWithin(this.store.ping(), timeoutMs);
    if (ping === 'done') {
      storeLatencyMs = Math.round((performance.now() - started) * 100) / 100;
    } else {
      down = true;
      problems.push(`The store cannot be reached: ${describeOutcome(ping, timeoutMs)}`);
    }
    const accepting = this.transport.isAccepting;
    if (!accepting) {
      down = true;
      problems.push('The endpoint does not take connections (starting up or shutting down)');
    }
    const { nodeTtl, nodeHeartbeatInterval } = this.options;
    const heartbeatAgeMs = this.membership.heartbeatAgeMs;
    if (heartbeatAgeMs === null) {
      down = true;
      problems.push('No heartbeat accepted yet');
    } else if (heartbeatAgeMs > nodeTtl) {
      down = true;
      problems.push(`Last heartbeat accepted ${heartbeatAgeMs} ms ago, beyond nodeTtl (${nodeTtl} ms): the cluster may have removed this node`);
    } else if (heartbeatAgeMs > 2 * nodeHeartbeatInterval) {
      problems.push(`Last heartbeat accepted ${heartbeatAgeMs} ms ago (every ${nodeHeartbeatInterval} ms expected)`);
    }
    const listening = this.broker.listening;
    if (!listening) problems.push('The subscription connection is down: messages from other nodes are being lost');
    return {
      status: down ? 'down' : problems.length > 0 ? 'degraded' : 'up',
      problems,
      nodeId: this.nodes.nodeId,
      leader: this.membership.isLeader,
      connections: this.local.size,
      accepting,
      store: this.options.redis ? 'redis' : 'memory',
      storeLatencyMs,
      listening,
      heartbeatAgeMs,
    };
  }
}
