import { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import type { SampleConfig } from './config';

function connect(config: SampleConfig): Redis | Cluster | undefined {
  if (config.redisClusterNodes) return new Cluster(config.redisClusterNodes, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 3 } });
  return config.redisUrl ? new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 }) : undefined;
}

/**
 * The key that signs session tokens: `MESH_SESSION_SECRET` when set (do set it in production).
 * Otherwise a random one; with Redis, the first node to start stores it (SET NX) under the mesh's
 * internal key prefix and every later node reads the same one, so a token issued by any node is
 * valid on all of them. Clients cannot reach that key: channel names under the prefix are refused.
 */
export async function resolveSessionSecret(config: SampleConfig): Promise<string> {
  if (config.sessionSecret) return config.sessionSecret;
  const generated = randomBytes(32).toString('base64url');
  const redis = connect(config);
  if (!redis) return generated;
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const key = `${config.keyPrefix ?? 'mesh:'}sample:session-secret`;
    await redis.set(key, generated, 'NX');
    return (await redis.get(key)) ?? generated;
  } finally {
    redis.disconnect();
  }
}
