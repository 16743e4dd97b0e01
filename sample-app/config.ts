/** The sample app's settings, from the environment. */
export interface SampleConfig {
  port: number;
  /** Unset: one process with in-memory state (no Redis needed). */
  redisUrl?: string;
  /** Built-in command prefix: `mesh`, or `rt` for `@prsm/realtime` clients. */
  prefix: string;
  keyPrefix?: string;
  pingInterval?: number;
  latencyInterval?: number;
  nodeHeartbeatInterval?: number;
  nodeTtl?: number;
}

function optionalNumber(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): SampleConfig {
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be a port number, got ${env.PORT}`);
  return {
    port,
    redisUrl: env.REDIS_URL || undefined,
    prefix: env.MESH_PREFIX || 'mesh',
    keyPrefix: env.MESH_KEY_PREFIX || undefined,
    pingInterval: optionalNumber(env, 'MESH_PING_INTERVAL'),
    latencyInterval: optionalNumber(env, 'MESH_LATENCY_INTERVAL'),
    nodeHeartbeatInterval: optionalNumber(env, 'MESH_NODE_HEARTBEAT_INTERVAL'),
    nodeTtl: optionalNumber(env, 'MESH_NODE_TTL'),
  };
}
