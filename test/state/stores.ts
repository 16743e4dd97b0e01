import { MemoryBroker } from '../../lib/state/broker/memory-broker';
import type { BrokerListener, MeshBroker } from '../../lib/state/broker/mesh-broker';
import { RedisBroker } from '../../lib/state/broker/redis-broker';
import { MemoryMembershipStore } from '../../lib/state/membership/memory-membership-store';
import type { MembershipStore } from '../../lib/state/membership/membership-store';
import { RedisMembershipStore } from '../../lib/state/membership/redis-membership-store';
import { RedisConnections } from '../../lib/state/redis/redis-connections';
import { MemorySharedState } from '../../lib/state/shared-state/memory-shared-state';
import { RedisSharedState } from '../../lib/state/shared-state/redis-shared-state';
import type { SharedState } from '../../lib/state/shared-state/shared-state';
import { listNodes, redisOption, uniquePrefix } from '../support/test-app';

/** The three stores of one node, as a conformance suite drives them. */
export interface NodeStores {
  broker: MeshBroker;
  state: SharedState;
  membership: MembershipStore;
  /**
   * Lists node ids as live cluster members without a process behind them, for suites that name
   * nodes themselves (whole-cluster reads such as countConnections go through the listed nodes).
   */
  listNodes(...nodeIds: string[]): Promise<void>;
  close(): Promise<void>;
}

/** What a node heard through its broker. */
export interface Heard {
  node: string[];
  channel: Array<[string, string]>;
  topic?: Array<[string, string, string]>;
}

export function listenerFor(heard: Heard): BrokerListener {
  return {
    onNodeMessage: (m) => heard.node.push(m),
    onChannelMessage: (c, m) => heard.channel.push([c, m]),
    onTopicMessage: (t, m) => (heard.topic ??= []).push([t.kind, t.name, m]),
  };
}

export async function redisStores(keyPrefix = uniquePrefix()): Promise<NodeStores> {
  const redis = new RedisConnections(redisOption(), keyPrefix);
  await redis.connect();
  return {
    broker: new RedisBroker(redis),
    state: new RedisSharedState(redis),
    membership: new RedisMembershipStore(redis),
    listNodes: (...nodeIds) => listNodes(redis.commands, keyPrefix, nodeIds),
    close: () => redis.stop(),
  };
}

export async function memoryStores(): Promise<NodeStores> {
  return { broker: new MemoryBroker(), state: new MemorySharedState(), membership: new MemoryMembershipStore(), listNodes: async () => undefined, close: async () => undefined };
}

/** Both implementations, for `describe.each`. */
export const IMPLEMENTATIONS: Array<[string, () => Promise<NodeStores>]> = [
  ['Redis', () => redisStores()],
  ['memory', memoryStores],
];
