import { Cluster, Redis } from 'ioredis';
import type { MeshRedisOption } from '../../lib';
import { RedisCluster } from './redis-cluster';
import { RedisServer } from './redis-server';
import { onCluster } from './test-app';

/**
 * The Redis the outage suite kills: private to the suite, so killing its connections or its
 * processes touches no other suite. A standalone `redis-server` in the standalone project, a
 * 3-master Redis Cluster (no replicas) in the cluster project (MESH_TEST_TOPOLOGY=cluster, set by
 * topology-cluster.ts).
 */
export interface OutageTarget {
  readonly topology: 'standalone' | 'cluster';
  /** The mesh `redis` option for a node (a fresh value each time). */
  redisOption(): MeshRedisOption;
  /** A client to read and change keys directly (an ioredis Cluster on the cluster: same command methods). */
  readonly admin: Redis;
  /** `CLIENT KILL TYPE pubsub` on every Redis process; how many connections were killed in all. */
  killPubsubConnections(): Promise<number>;
  /**
   * Drops the subscription connections on one Redis process (on a cluster: one shard that has
   * some) and refuses new connections to it (the default user switched off by ACL; connections
   * already open keep working), until the returned function lets them in again: a subscription
   * that cannot come back while the rest of Redis serves.
   */
  refuseSubscriptions(): Promise<() => Promise<void>>;
  /** SIGKILLs every Redis process: a crash of the whole Redis. */
  stop(): Promise<void>;
  /**
   * Starts every stopped process again on its port, with every key lost; resolves once Redis
   * serves again (on the cluster: every slot served). Does nothing to what is already up.
   */
  start(): Promise<void>;
  /** Everything down and removed. */
  teardown(): Promise<void>;
}

/** `refuseSubscriptions` on one process, through a connection opened before the default user is switched off. */
async function refuseOn(port: number): Promise<() => Promise<void>> {
  const admin = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null });
  await admin.call('ACL', 'SETUSER', 'default', 'off');
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  return async () => {
    await admin.call('ACL', 'SETUSER', 'default', 'on');
    admin.disconnect();
  };
}

/** The outage target for the Jest project running: a standalone server or a cluster. */
export function startOutageTarget(): Promise<OutageTarget> {
  return onCluster() ? ClusterTarget.create() : StandaloneTarget.create();
}

class StandaloneTarget implements OutageTarget {
  readonly topology = 'standalone';
  readonly admin: Redis;

  private constructor(private readonly server: RedisServer) {
    this.admin = new Redis(server.url, { maxRetriesPerRequest: null });
  }

  static async create(): Promise<StandaloneTarget> {
    return new StandaloneTarget(await RedisServer.start());
  }

  redisOption(): MeshRedisOption {
    return this.server.url;
  }

  async killPubsubConnections(): Promise<number> {
    return Number(await this.admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
  }

  refuseSubscriptions(): Promise<() => Promise<void>> {
    return refuseOn(this.server.port);
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  start(): Promise<void> {
    return this.server.start();
  }

  async teardown(): Promise<void> {
    this.admin.disconnect();
    await this.server.stop();
  }
}

class ClusterTarget implements OutageTarget {
  readonly topology = 'cluster';
  readonly admin: Redis;

  private constructor(private readonly cluster: RedisCluster) {
    this.admin = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: null } }) as unknown as Redis;
    this.admin.on('error', () => undefined);
  }

  static async create(): Promise<ClusterTarget> {
    return new ClusterTarget(await RedisCluster.start({ masters: 3, replicas: 0 }));
  }

  redisOption(): MeshRedisOption {
    return { cluster: this.cluster.nodes };
  }

  async killPubsubConnections(): Promise<number> {
    // Each node's own connection (not the admin Cluster's), so every process is reached whatever
    // the slots it serves: a mesh node holds a sharded subscriber per shard it listens on.
    const counts = await Promise.all(this.cluster.servers.map((s) => s.query((r) => r.call('CLIENT', 'KILL', 'TYPE', 'pubsub'))));
    return counts.reduce<number>((sum, n) => sum + Number(n), 0);
  }

  async refuseSubscriptions(): Promise<() => Promise<void>> {
    const pubsub = await Promise.all(this.cluster.servers.map((s) => s.query((r) => r.call('CLIENT', 'LIST', 'TYPE', 'pubsub'))));
    const index = pubsub.findIndex((list) => String(list).trim().length > 0);
    if (index < 0) throw new Error('No shard has a subscription connection');
    return refuseOn(this.cluster.servers[index].port);
  }

  async stop(): Promise<void> {
    await Promise.all(this.cluster.servers.map((s) => s.kill()));
  }

  async start(): Promise<void> {
    // Same port, same --dir and --cluster-config-file: each node reads its nodes-<port>.conf and
    // comes back owning its slots, with no data (no RDB, no AOF).
    const down = this.cluster.servers.filter((s) => !s.child);
    if (down.length === 0) return;
    await Promise.all(down.map((s) => s.start()));
    await this.cluster.waitUntilHealthy();
  }

  async teardown(): Promise<void> {
    this.admin.disconnect();
    await this.cluster.stop();
  }
}
