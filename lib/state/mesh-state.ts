import type { Redis } from 'ioredis';
import type { ResolvedMeshOptions } from '../interfaces/mesh-module-options.interface';
import { MemoryBroker } from './broker/memory-broker';
import type { MeshBroker } from './broker/mesh-broker';
import { RedisBroker } from './broker/redis-broker';
import { MemoryMembershipStore } from './membership/memory-membership-store';
import type { MembershipStore } from './membership/membership-store';
import { RedisMembershipStore } from './membership/redis-membership-store';
import { RedisConnections } from './redis/redis-connections';
import { MemoryPresenceStore } from './presence/memory-presence-store';
import type { PresenceStore } from './presence/presence-store';
import { RedisPresenceStore } from './presence/redis-presence-store';
import { MemorySharedState } from './shared-state/memory-shared-state';
import { RedisSharedState } from './shared-state/redis-shared-state';
import type { SharedState } from './shared-state/shared-state';
import { MemoryRecordStore } from './records/memory-record-store';
import type { RecordStore } from './records/record-store';
import { RedisRecordStore } from './records/redis-record-store';

/** The stores of a node, and the Redis connections they share (none in memory mode). */
export interface MeshState {
  broker: MeshBroker;
  state: SharedState;
  membership: MembershipStore;
  records: RecordStore;
  presence: PresenceStore;
  redis?: RedisConnections;
  /** The command connection, for the client registry (Redis mode only). */
  readonly client?: Redis;
  /** Connects (Redis mode). */
  connect(): Promise<void>;
  /** Releases the connections. */
  close(): Promise<void>;
}

/** Redis stores with a `redis` option, memory ones without. */
export function createMeshState(options: ResolvedMeshOptions): MeshState {
  if (!options.redis) {
    const broker = new MemoryBroker();
    const presence = new MemoryPresenceStore((room, event) => void broker.publishTopic({ kind: 'presence', name: room }, event));
    return {
      broker,
      state: new MemorySharedState(),
      membership: new MemoryMembershipStore(),
      presence,
      records: new MemoryRecordStore(broker),
      connect: async () => undefined,
      close: async () => undefined,
    };
  }
  const redis = new RedisConnections(options.redis, options.keyPrefix);
  return {
    broker: new RedisBroker(redis),
    state: new RedisSharedState(redis),
    membership: new RedisMembershipStore(redis),
    records: new RedisRecordStore(redis),
    presence: new RedisPresenceStore(redis),
    redis,
    client: redis.commands,
    connect: () => redis.connect(),
    close: () => redis.stop(),
  };
}
