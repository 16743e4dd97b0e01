import { parseClusterNodes, type MeshRedisOption } from '../lib';

/** The sample app's settings, from the environment (the README lists them in one table). */
export interface SampleConfig {
  port: number;
  /** Unset (and no cluster nodes): one process with in-memory state (no Redis needed). */
  redisUrl?: string;
  /** Redis Cluster nodes (`REDIS_CLUSTER_NODES=host:port,host:port,...`), instead of `redisUrl`. */
  redisClusterNodes?: Array<{ host: string; port: number }>;
  /** Built-in command prefix: `mesh`, or `rt` for `@prsm/realtime` clients. */
  prefix: string;
  keyPrefix?: string;
  pingInterval?: number;
  latencyInterval?: number;
  nodeHeartbeatInterval?: number;
  nodeTtl?: number;
  /** Signs session tokens. Unset: a random secret, shared through Redis so every node accepts every node's tokens. */
  sessionSecret?: string;
  /** Browser origins allowed to connect. Unset: pages from the endpoint's own host only. */
  allowedOrigins?: string[];
  /** User ids the demo directory marks premium (they may use `private:chat:*`). */
  premiumUsers: string[];
}

function optionalNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

function list(raw: string | undefined): string[] | undefined {
  const items = (raw ?? '').split(',').map((item) => item.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): SampleConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${env.PORT}`);
  const sessionSecret = env.MESH_SESSION_SECRET || undefined;
  if (sessionSecret !== undefined && Buffer.byteLength(sessionSecret) < 32) throw new Error('MESH_SESSION_SECRET must be at least 32 bytes');
  const redisClusterNodes = env.REDIS_CLUSTER_NODES ? parseClusterNodes(env.REDIS_CLUSTER_NODES) : undefined;
  if (redisClusterNodes && env.REDIS_URL) throw new Error('Set REDIS_URL or REDIS_CLUSTER_NODES, not both');
  return {
    port,
    redisUrl: env.REDIS_URL || undefined,
    redisClusterNodes,
    prefix: env.MESH_PREFIX || 'mesh',
    keyPrefix: env.MESH_KEY_PREFIX || undefined,
    pingInterval: optionalNumber(env, 'MESH_PING_INTERVAL'),
    latencyInterval: optionalNumber(env, 'MESH_LATENCY_INTERVAL'),
    nodeHeartbeatInterval: optionalNumber(env, 'MESH_NODE_HEARTBEAT_INTERVAL'),
    nodeTtl: optionalNumber(env, 'MESH_NODE_TTL'),
    sessionSecret,
    allowedOrigins: list(env.MESH_ALLOWED_ORIGINS),
    premiumUsers: list(env.MESH_PREMIUM_USERS) ?? ['alice'],
  };
}

/** The mesh's `redis` option: cluster nodes, a URL, or none (memory). */
export function redisOptionOf(config: SampleConfig): MeshRedisOption | undefined {
  return config.redisClusterNodes ? { cluster: config.redisClusterNodes } : config.redisUrl;
}

/** Where the state lives, for the start-up log line (no credentials). */
export function describeState(config: SampleConfig): string {
  if (config.redisClusterNodes) return `Redis Cluster at ${config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(',')}`;
  if (config.redisUrl) return `Redis at ${config.redisUrl.replace(/\/\/[^@/]*@/, '//***@')}`;
  return 'one process, in-memory state (set REDIS_URL or REDIS_CLUSTER_NODES for many nodes)';
}
