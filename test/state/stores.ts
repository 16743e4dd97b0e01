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
import { redisUrl, uniquePrefix } from '../support/test-app';

/** The three stores of one node, as a conformance suite drives them. */
export interface NodeStores {
  broker: MeshBroker;
  state: SharedState;
  membership: MembershipStore;
  close(): Promise<void>;
}

/** What a node heard through its broker. */
export interface Heard {
  node: string[];
  channel: Array<[string, string]>;
}

export function listenerFor(heard: Heard): BrokerListener {
  return { onNodeMessage: (m) => heard.node.push(m), onChannelMessage: (c, m) => heard.channel.push([c, m]) };
}

export async function redisStores(keyPrefix = uniquePrefix()): Promise<NodeStores> {
  const redis = new RedisConnections(redisUrl(), keyPrefix);
  await redis.connect();
  return { broker: new RedisBroker(redis), state: new RedisSharedState(redis), membership: new RedisMembershipStore(redis), close: () => redis.stop() };
}

export async function memoryStores(): Promise<NodeStores> {
  return { broker: new MemoryBroker(), state: new MemorySharedState(), membership: new MemoryMembershipStore(), close: async () => undefined };
}

/** Both implementations, for `describe.each`. */
export const IMPLEMENTATIONS: Array<[string, () => Promise<NodeStores>]> = [
  ['Redis', () => redisStores()],
  ['memory', memoryStores],
];
