import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';

/** Redis Cluster given by its nodes (any of them; the rest are discovered). */
export interface MeshRedisClusterOption {
  /** Startup nodes, e.g. `[{ host: '127.0.0.1', port: 7000 }]` or `['127.0.0.1:7000']`. */
  cluster: ClusterNode[];
  /** ioredis Cluster options (`redisOptions` for password, TLS...). `lazyConnect` is always set. */
  options?: ClusterOptions;
}

/**
 * Where the shared state lives: a URL, ioredis options (Sentinel included: `{ sentinels, name }`),
 * an ioredis client or Cluster (borrowed: never closed by the module), or cluster nodes.
 */
export type MeshRedisOption = string | RedisOptions | Redis | Cluster | MeshRedisClusterOption;

export function isClusterOption(option: MeshRedisOption): option is MeshRedisClusterOption {
  return typeof option === 'object' && option !== null && !(option instanceof Redis) && !(option instanceof Cluster) && 'cluster' in option;
}

/** A description for errors and logs, without credentials. */
export function describeRedis(option: MeshRedisOption): string {
  if (typeof option === 'string') return option.replace(/\/\/[^@/]*@/, '//***@');
  if (option instanceof Redis) return `${option.options.host}:${option.options.port}`;
  if (option instanceof Cluster) return 'the given Redis Cluster client';
  if (isClusterOption(option)) return `cluster ${option.cluster.map(nodeText).join(',')}`;
  if (option.sentinels) return `sentinel master "${option.name ?? 'mymaster'}"`;
  return `${option.host ?? '127.0.0.1'}:${option.port ?? 6379}`;
}

function nodeText(node: ClusterNode | unknown): string {
  if (typeof node === 'string' || typeof node === 'number') return String(node);
  const { host = '127.0.0.1', port = 6379 } = (node ?? {}) as { host?: string; port?: number };
  return `${host}:${port}`;
}

/**
 * Reads `host:port,host:port` (the sample's `REDIS_CLUSTER_NODES`) into cluster nodes; throws on
 * an entry that is not `host:port`.
 */
export function parseClusterNodes(text: string): Array<{ host: string; port: number }> {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const match = /^(.+):(\d{1,5})$/.exec(entry);
      if (!match) throw new TypeError(`Cluster node "${entry}" is not host:port`);
      return { host: match[1], port: Number(match[2]) };
    });
}
